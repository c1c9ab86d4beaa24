using System.Security.Cryptography;
using System.Text;
using Avro;
using Fulfillment.Schemas.Compatibility;

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
        string canonical;
        try
        {
            parsed = Schema.Parse(text);
            // Some unresolvable shapes (e.g. {"type":"nonsense"}) parse and only fail when written back out.
            canonical = parsed.ToString();
        }
        // Apache.Avro reports bad input with several exception types (SchemaParseException, JSON reader errors, even
        // NullReferenceException for some shapes); any failure to parse client input is the client's invalid schema.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Errors.InvalidSchema(e.Message);
        }

        var badDefaults = AvroDefaults.FindInvalidDefaults(parsed);
        if (badDefaults.Count > 0)
        {
            throw Errors.InvalidSchema("invalid default value: " + string.Join("; ", badDefaults));
        }

        return new ParsedSchema(type, canonical, parsed, Fingerprint(type, canonical));
    }

    /// <summary>Parses text already stored (so already canonical and valid).</summary>
    public static Schema ParseStored(string canonical) => Schema.Parse(canonical);

    private static byte[] Fingerprint(string type, string canonical) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(type + "\n" + canonical));
}
