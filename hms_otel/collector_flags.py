"""Command-line flags every hms-otelcol run needs, in a module light enough for `hms-ops up` to import."""

#: The collector flag the generated PII statements need (MapEach/When take lambdas); see hms_otel.pii.
FEATURE_GATES = "--feature-gates=ottl.functions.enableLambda"
