using System.Text.Json;
using System.Text.Json.Serialization;
using Fulfillment.Schemas.Compatibility;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fulfillment.SchemaRegistry;

/// <summary>The Confluent Schema Registry REST subset (facts/local-infra.md), with Confluent's status codes and error codes.</summary>
public static class RegistryEndpoints
{
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Schema text is JSON inside JSON; \u0022 everywhere is legal but unreadable for people using curl.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IEndpointRouteBuilder MapRegistryEndpoints(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);

        app.MapGet("/", () => Ok(new { }));
        app.MapGet("/schemas/types", () => Ok(new[] { SchemaText.Avro }));
        app.MapGet("/mode", () => Ok(new { mode = "READWRITE" }));

        app.MapGet("/schemas/ids/{id:int}", async (int id, RegistryStore store, CancellationToken ct) =>
        {
            var schema = await store.GetSchemaAsync(id, ct);
            return Ok(new { schema = schema.SchemaText, schemaType = TypeIfNotAvro(schema.SchemaType) });
        });
        app.MapGet("/schemas/ids/{id:int}/schema", async (int id, RegistryStore store, CancellationToken ct) =>
            Raw((await store.GetSchemaAsync(id, ct)).SchemaText));
        app.MapGet("/schemas/ids/{id:int}/versions", async (int id, HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok((await store.GetVersionsOfSchemaAsync(id, Flag(http, "deleted"), ct)).Select(v => new { subject = v.Subject, version = v.Version })));
        app.MapGet("/schemas/ids/{id:int}/subjects", async (int id, HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok((await store.GetVersionsOfSchemaAsync(id, Flag(http, "deleted"), ct)).Select(v => v.Subject).Distinct()));

        app.MapGet("/subjects", async (HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok(await store.GetSubjectsAsync(Flag(http, "deleted"), http.Request.Query["subjectPrefix"].ToString(), ct)));
        app.MapGet("/subjects/{subject}/versions", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok((await store.GetSubjectVersionsAsync(subject, Flag(http, "deleted"), ct)).Select(v => v.Version)));
        app.MapGet("/subjects/{subject}/versions/{version}", async (string subject, string version, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            var v = await store.GetVersionAsync(subject, VersionSpec.Parse(version), Flag(http, "deleted"), ct);
            return Ok(await DescribeAsync(v, store, ct));
        });
        app.MapGet("/subjects/{subject}/versions/{version}/schema", async (string subject, string version, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            var v = await store.GetVersionAsync(subject, VersionSpec.Parse(version), Flag(http, "deleted"), ct);
            return Raw((await store.GetSchemaAsync(v.SchemaId, ct)).SchemaText);
        });
        app.MapGet("/subjects/{subject}/versions/{version}/referencedby", async (string subject, string version, RegistryStore store, CancellationToken ct) =>
        {
            await store.GetVersionAsync(subject, VersionSpec.Parse(version), false, ct);
            return Ok(Array.Empty<int>());
        });

        app.MapPost("/subjects/{subject}/versions", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            Flag(http, "normalize");
            var schema = await ReadSchemaAsync(http.Request, ct);
            return Ok(new { id = await store.RegisterAsync(subject, schema, ct) });
        });
        app.MapPost("/subjects/{subject}", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            Flag(http, "normalize");
            var deleted = Flag(http, "deleted");
            var schema = await ReadSchemaAsync(http.Request, ct);
            return Ok(await DescribeAsync(await store.LookupAsync(subject, schema, deleted, ct), store, ct));
        });
        app.MapDelete("/subjects/{subject}", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok(await store.DeleteSubjectAsync(subject, Flag(http, "permanent"), ct)));
        app.MapDelete("/subjects/{subject}/versions/{version}", async (string subject, string version, HttpContext http, RegistryStore store, CancellationToken ct) =>
            Ok(await store.DeleteVersionAsync(subject, VersionSpec.Parse(version), Flag(http, "permanent"), ct)));

        app.MapPost("/compatibility/subjects/{subject}/versions/{version}", (string subject, string version, HttpContext http, RegistryStore store, CancellationToken ct) =>
            CheckAsync(subject, VersionSpec.Parse(version), http, store, ct));
        app.MapPost("/compatibility/subjects/{subject}/versions", (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
            CheckAsync(subject, null, http, store, ct));

        app.MapGet("/config", async (RegistryStore store, CancellationToken ct) =>
            Ok(new { compatibilityLevel = (await store.GetGlobalLevelAsync(ct)).ToConfluentName() }));
        app.MapPut("/config", async (HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            var level = await ReadLevelAsync(http.Request, ct);
            await store.SetLevelAsync(null, level, ct);
            return Ok(new { compatibility = level.ToConfluentName() });
        });
        app.MapGet("/config/{subject}", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            var level = await store.GetSubjectLevelAsync(subject, ct);
            if (level is null && Flag(http, "defaultToGlobal"))
            {
                level = await store.GetGlobalLevelAsync(ct);
            }

            return level is { } l ? Ok(new { compatibilityLevel = l.ToConfluentName() }) : throw Errors.SubjectConfigNotFound(subject);
        });
        app.MapPut("/config/{subject}", async (string subject, HttpContext http, RegistryStore store, CancellationToken ct) =>
        {
            var level = await ReadLevelAsync(http.Request, ct);
            await store.SetLevelAsync(subject, level, ct);
            return Ok(new { compatibility = level.ToConfluentName() });
        });
        app.MapDelete("/config/{subject}", async (string subject, RegistryStore store, CancellationToken ct) =>
            Ok(new { compatibilityLevel = (await store.DeleteSubjectLevelAsync(subject, ct)).ToConfluentName() }));

        // Everything else, including 2.14 clients' GET /associations/..., is Confluent's plain 404, which makes them
        // fall back to TopicNameStrategy subjects (facts/local-infra.md).
        app.MapFallback(() => Error(404, 404, "HTTP 404 Not Found"));
        return app;
    }

    /// <summary>Answers <see cref="RegistryException"/>s and store failures in Confluent's error shape.</summary>
    public static async Task HandleErrorsAsync(HttpContext http, Func<Task> next)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            await next();
        }
        catch (RegistryException e) when (!http.Response.HasStarted)
        {
            await Error(e.Status, e.ErrorCode, e.Message).ExecuteAsync(http);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !http.Response.HasStarted)
        {
            RegistryLog.StoreFailed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Fulfillment.SchemaRegistry"), http.Request.Path, e);
            var store = Errors.Store();
            await Error(store.Status, store.ErrorCode, store.Message).ExecuteAsync(http);
        }
        catch (Exception e) when (e is not OperationCanceledException && !http.Response.HasStarted)
        {
            RegistryLog.Unexpected(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Fulfillment.SchemaRegistry"), http.Request.Path, e);
            await Error(500, 500, "Internal Server Error").ExecuteAsync(http);
        }
    }

    private static async Task<IResult> CheckAsync(string subject, VersionSpec? spec, HttpContext http, RegistryStore store, CancellationToken ct)
    {
        var verbose = Flag(http, "verbose");
        Flag(http, "normalize");
        var schema = await ReadSchemaAsync(http.Request, ct);
        var problems = await store.CheckCompatibilityAsync(subject, spec, schema, ct);
        return verbose
            ? Ok(new { is_compatible = problems.Count == 0, messages = problems })
            : Ok(new { is_compatible = problems.Count == 0 });
    }

    private static async Task<object> DescribeAsync(SubjectVersion v, RegistryStore store, CancellationToken ct)
    {
        var schema = await store.GetSchemaAsync(v.SchemaId, ct);
        return new { subject = v.Subject, version = v.Version, id = v.SchemaId, schemaType = TypeIfNotAvro(schema.SchemaType), schema = schema.SchemaText };
    }

    // Confluent omits schemaType for AVRO, the default.
    private static string? TypeIfNotAvro(string type) => type == SchemaText.Avro ? null : type;

    private static async Task<ParsedSchema> ReadSchemaAsync(HttpRequest request, CancellationToken ct)
    {
        using var doc = await ReadBodyAsync(request, ct);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Errors.BadRequest("Request body must be a JSON object");
        }

        if (root.TryGetProperty("references", out var references)
            && references.ValueKind == JsonValueKind.Array && references.GetArrayLength() > 0)
        {
            throw Errors.InvalidSchema("schema references are not supported by this registry; send \"references\": [] or omit it");
        }

        var text = root.TryGetProperty("schema", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        var type = root.TryGetProperty("schemaType", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        return SchemaText.Parse(type, text);
    }

    private static async Task<CompatibilityLevel> ReadLevelAsync(HttpRequest request, CancellationToken ct)
    {
        using var doc = await ReadBodyAsync(request, ct);
        var text = doc.RootElement.ValueKind == JsonValueKind.Object
                   && doc.RootElement.TryGetProperty("compatibility", out var c) && c.ValueKind == JsonValueKind.String
            ? c.GetString()
            : null;
        return SchemaCompatibility.TryParse(text, out var level) ? level.Value : throw Errors.InvalidCompatibilityLevel(text);
    }

    // Bodies are read whatever the Content-Type (Confluent's vnd types, plain JSON, or none): clients differ.
    private static async Task<JsonDocument> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, default, ct);
        }
        catch (JsonException e)
        {
            throw Errors.BadRequest($"Malformed JSON body: {e.Message}");
        }
    }

    // Query booleans arrive as True/False from the .NET client and true/false from others.
    private static bool Flag(HttpContext http, string name)
    {
        var value = http.Request.Query[name].ToString();
        if (value.Length == 0)
        {
            return false;
        }

        return bool.TryParse(value, out var flag) ? flag : throw Errors.BadRequest($"Query parameter {name} must be true or false, not '{value}'");
    }

    private static IResult Ok(object value) => Results.Json(value, Json, ContentType);

    private static IResult Raw(string json) => Results.Text(json, ContentType);

    private static IResult Error(int status, int code, string message)
    {
        if (status != 500)
        {
            RegistryMetrics.Rejected.WithLabels(status.ToString(System.Globalization.CultureInfo.InvariantCulture), code.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        }

        return Results.Json(new { error_code = code, message }, Json, ContentType, status);
    }
}
