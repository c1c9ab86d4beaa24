using Avro;
using Newtonsoft.Json.Linq;

namespace Fulfillment.Schemas.Compatibility;

/// <summary>
/// Field defaults that do not fit their field's type. Apache.Avro (C#) accepts them when parsing, but a reader using such
/// a default fails at run time, so compatibility that relies on it is false. Rules follow Avro Java's default validation
/// (which Confluent applies): a union default may match any branch.
/// </summary>
public static class AvroDefaults
{
    /// <summary>One message per invalid default, with the field's path, e.g. <c>/fields/qty: default "x" is not a valid int</c>.</summary>
    public static IReadOnlyList<string> FindInvalidDefaults(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var problems = new List<string>();
        Walk(schema, "", problems, new HashSet<Schema>(ReferenceEqualityComparer.Instance));
        return problems;
    }

    private static void Walk(Schema schema, string path, List<string> problems, HashSet<Schema> seen)
    {
        switch (schema)
        {
            case RecordSchema record when seen.Add(record):
                foreach (var field in record.Fields)
                {
                    var fieldPath = $"{path}/fields/{field.Name}";
                    if (field.DefaultValue is { } value && !IsValid(field.Schema, value))
                    {
                        problems.Add($"{fieldPath}: default {value.ToString(Newtonsoft.Json.Formatting.None)} is not a valid {Describe(field.Schema)}");
                    }

                    Walk(field.Schema, fieldPath, problems, seen);
                }

                break;
            case ArraySchema array:
                Walk(array.ItemSchema, path + "/items", problems, seen);
                break;
            case MapSchema map:
                Walk(map.ValueSchema, path + "/values", problems, seen);
                break;
            case UnionSchema union:
                for (var i = 0; i < union.Count; i++)
                {
                    Walk(union[i], $"{path}/{i}", problems, seen);
                }

                break;
            case LogicalSchema logical:
                Walk(logical.BaseSchema, path, problems, seen);
                break;
        }
    }

    private static bool IsValid(Schema schema, JToken value) => schema switch
    {
        LogicalSchema logical => IsValid(logical.BaseSchema, value),
        UnionSchema union => union.Schemas.Any(branch => IsValid(branch, value)),
        RecordSchema record => value is JObject obj && record.Fields.All(f =>
            obj.TryGetValue(f.Name, StringComparison.Ordinal, out var v) ? IsValid(f.Schema, v) : f.DefaultValue is not null),
                ArraySchema array => value is JArray items && items.All(item => IsValid(array.ItemSchema, item)),
        MapSchema map => value is JObject entries && entries.Properties().All(p => IsValid(map.ValueSchema, p.Value)),
        _ => schema.Tag switch
        {
            Schema.Type.Null => value.Type == JTokenType.Null,
            Schema.Type.Boolean => value.Type == JTokenType.Boolean,
            Schema.Type.Int => value is JValue { Value: long n } && n is >= int.MinValue and <= int.MaxValue,
            Schema.Type.Long => value is JValue { Value: long },
            Schema.Type.Float or Schema.Type.Double => value.Type is JTokenType.Integer or JTokenType.Float,
            // Enum defaults are checked as text only, as Avro Java does; symbol membership is the reader's problem there too.
            Schema.Type.String or Schema.Type.Bytes or Schema.Type.Fixed or Schema.Type.Enumeration => value.Type == JTokenType.String,
            _ => false,
        },
    };

    private static string Describe(Schema schema) => schema switch
    {
        LogicalSchema logical => Describe(logical.BaseSchema),
        UnionSchema union => "[" + string.Join(", ", union.Schemas.Select(Describe)) + "]",
        NamedSchema named => $"{Schema.GetTypeString(named.Tag)} {named.Fullname}",
        _ => Schema.GetTypeString(schema.Tag),
    };
}
