using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Fulfillment.SchemaRegistry.Tests.Infrastructure;

/// <summary>Raw HTTP calls shaped like the Confluent clients' (facts/local-infra.md).</summary>
public static class Api
{
    public const string VndJson = "application/vnd.schemaregistry.v1+json";

    public sealed record Reply(HttpStatusCode Status, JsonElement Body, string? ContentType)
    {
        public int ErrorCode => Body.GetProperty("error_code").GetInt32();

        public string Message => Body.GetProperty("message").GetString() ?? "";
    }

    public static string Record(string name, params string[] fields) =>
        $$"""{"type":"record","name":"{{name}}","namespace":"fulfillment.registry.test","fields":[{{string.Join(",", fields)}}]}""";

    public static string Field(string name, string type, string? defaultJson = null) =>
        defaultJson is null
            ? $$"""{"name":"{{name}}","type":"{{type}}"}"""
            : $$"""{"name":"{{name}}","type":"{{type}}","default":{{defaultJson}}}""";

    /// <summary>The body the 2.14 .NET serializer sends.</summary>
    public static object SchemaBody(string schema, string schemaType = "AVRO") =>
        new { schema, references = Array.Empty<object>(), schemaType, metadata = (object?)null, ruleSet = (object?)null };

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static Task<Reply> GetReplyAsync(this HttpClient http, string path) => SendAsync(http, HttpMethod.Get, path, null);

    public static Task<Reply> DeleteReplyAsync(this HttpClient http, string path) => SendAsync(http, HttpMethod.Delete, path, null);

    public static Task<Reply> PostReplyAsync(this HttpClient http, string path, object body) =>
        SendAsync(http, HttpMethod.Post, path, JsonSerializer.Serialize(body));

    public static Task<Reply> PutReplyAsync(this HttpClient http, string path, object body) =>
        SendAsync(http, HttpMethod.Put, path, JsonSerializer.Serialize(body));

    public static Task<Reply> RegisterAsync(this HttpClient http, string subject, string schema) =>
        http.PostReplyAsync($"/subjects/{subject}/versions?normalize=False", SchemaBody(schema));

    public static async Task<Reply> SendAsync(HttpClient http, HttpMethod method, string path, string? json, string contentType = VndJson)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Accept.ParseAdd("application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json");
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return new Reply(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType);
    }
}
