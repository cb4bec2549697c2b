"""HTTP plumbing shared by the API and the dashboard: tokens, host names, event streams and
the OpenAPI document. It knows neither the API's routes nor the dashboard's pages."""
