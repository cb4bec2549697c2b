-- The trace context of the enqueue that stored a job (W3C traceparent/tracestate as JSON),
-- for a tracing integration to continue the trace in its attempts; NULL without one. A
-- column without a default rewrites no row.
ALTER TABLE {schema}.jobs ADD COLUMN trace_context text;
