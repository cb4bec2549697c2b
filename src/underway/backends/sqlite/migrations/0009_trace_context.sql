-- The trace context of the enqueue that stored a job (W3C traceparent/tracestate as JSON),
-- for a tracing integration to continue the trace in its attempts; NULL without one.
ALTER TABLE underway_jobs ADD COLUMN trace_context TEXT;
