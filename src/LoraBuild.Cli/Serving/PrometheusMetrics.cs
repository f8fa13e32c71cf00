using System.Globalization;
using System.Text;
using LoraBuild.Runtime.Engine;

namespace LoraBuild.Cli.Serving;

/// <summary>
/// /metrics in Prometheus' text exposition format (version 0.0.4), named after vLLM's (<c>vllm:num_requests_running</c>
/// ...) with a <c>lorabuild:</c> prefix: queue gauges, and per model (base or adapter) requests, tokens and cancellations.
/// </summary>
public static class PrometheusMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(EngineMetrics engine, ServerCounters server, IEnumerable<string> models)
    {
        var text = new StringBuilder();
        Gauge(text, "lorabuild:num_requests_running", "Requests decoding in the engine's batch.", engine.Running);
        Gauge(text, "lorabuild:num_requests_waiting", "Requests waiting to be prefilled (the queue depth).", engine.Waiting);
        Gauge(text, "lorabuild:http_requests_in_flight", "HTTP generation requests being answered.", server.InFlight);
        Counter(text, "lorabuild:engine_steps_total", "Engine steps (one batched decode each).", engine.Steps);
        Counter(text, "lorabuild:decoded_rows_total", "Rows decoded over all steps (divided by steps: the mean batch size).", engine.DecodedRows);
        Header(text, "lorabuild:time_to_first_token_seconds", "Time from submission to the first token.", "summary");
        Line(text, "lorabuild:time_to_first_token_seconds_sum", "", engine.TimeToFirstTokenTotal.TotalSeconds);
        Line(text, "lorabuild:time_to_first_token_seconds_count", "", engine.FirstTokens);
        var perModel = models.Select(m => (Model: m, Counters: engine.Adapters.TryGetValue(m, out var c) ? c : null)).ToList();
        PerModel(text, "lorabuild:request_total", "Requests submitted, per model.", perModel, c => c.Requests);
        PerModel(text, "lorabuild:request_success_total", "Requests finished (stop or length), per model.", perModel, c => c.Finished);
        PerModel(text, "lorabuild:request_cancelled_total", "Requests cancelled (client gone or stop sequence), per model.", perModel, c => c.Cancelled);
        PerModel(text, "lorabuild:prompt_tokens_total", "Prompt tokens prefilled, per model.", perModel, c => c.PromptTokens);
        PerModel(text, "lorabuild:generation_tokens_total", "Tokens generated, per model.", perModel, c => c.GeneratedTokens);
        Header(text, "lorabuild:http_responses_total", "HTTP responses by endpoint and status.", "counter");
        foreach (var ((endpoint, status), count) in server.Responses.OrderBy(r => r.Key.Endpoint, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
            Line(text, "lorabuild:http_responses_total", $"{{endpoint=\"{Escape(endpoint)}\",status=\"{status}\"}}", count);
        return text.ToString();
    }

    static void PerModel(StringBuilder text, string name, string help, IReadOnlyList<(string Model, AdapterCounters? Counters)> models, Func<AdapterCounters, long> value)
    {
        Header(text, name, help, "counter");
        foreach (var (model, counters) in models) Line(text, name, $"{{model_name=\"{Escape(model)}\"}}", counters is null ? 0 : value(counters));
    }

    static void Gauge(StringBuilder text, string name, string help, double value)
    {
        Header(text, name, help, "gauge");
        Line(text, name, "", value);
    }

    static void Counter(StringBuilder text, string name, string help, double value)
    {
        Header(text, name, help, "counter");
        Line(text, name, "", value);
    }

    static void Header(StringBuilder text, string name, string help, string type) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    static void Line(StringBuilder text, string name, string labels, double value) =>
        text.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
