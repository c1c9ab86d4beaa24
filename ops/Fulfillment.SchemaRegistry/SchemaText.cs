using System.Security.Cryptography;
using System.Text;
using Avro;

namespace Fulfillment.SchemaRegistry;

/// <summary>A submitted schema, parsed and in the canonical text that decides its identity.</summary>
public sealed record ParsedSchema(string SchemaType, string Canonical, Schema Avro, byte[] Fingerprint);

/// <summary>Parsing and canonicalisation of submitted schema text.</summary>
public static class SchemaText
{
    public const string Avro = "AVRO";

    /// <summary>
    /// Parses an Avro schema and re-serialises it with Apache.Avro's writer, so formatting and key order no longer matter:
    /// the same schema sent with different whitespace gets the same id. Docs, defaults, aliases and logical types are kept
    /// (they change meaning for readers), which is also what Confluent's canonical string keeps.
    /// </summary>
    public static ParsedSchema Parse(string? schemaType, string? text)
    {
        var type = string.IsNullOrEmpty(schemaType) ? Avro : schemaType.Trim().ToUpperInvariant();
        if (type != Avro)
        {
            throw Errors.InvalidSchema($"schemaType {schemaType} is not supported by this registry; only AVRO is");
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw Errors.InvalidSchema("empty schema");
        }

        Schema parsed;
        try
        {
            parsed = Schema.Parse(text);
        }
        catch (Exception e) when (e is SchemaParseException or AvroException or Newtonsoft.Json.JsonException or ArgumentException or InvalidOperationException)
        {
            throw Errors.InvalidSchema(e.Message);
        }

        var canonical = parsed.ToString();
        return new ParsedSchema(type, canonical, parsed, Fingerprint(type, canonical));
    }

    /// <summary>Parses text already stored (so already canonical and valid).</summary>
    public static Schema ParseStored(string canonical) => Schema.Parse(canonical);

    private static byte[] Fingerprint(string type, string canonical) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(type + "\n" + canonical));
}
