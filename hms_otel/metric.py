"""Placeholder: replaced by the facades shortly."""
