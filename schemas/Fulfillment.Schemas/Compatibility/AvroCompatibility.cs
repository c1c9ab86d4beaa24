using System.Globalization;
using Avro;

namespace Fulfillment.Schemas.Compatibility;

/// <summary>
/// Avro schema-resolution check (Avro specification, "Schema Resolution"): can a reader using one schema
/// decode every datum written with another? Mirrors the rules Confluent Schema Registry applies through
/// Avro Java's <c>SchemaCompatibility</c>, so our registry and Confluent's agree on what is compatible.
/// </summary>
public static class AvroCompatibility
{
    /// <summary>
    /// Every reason the <paramref name="reader"/> schema cannot read data written with <paramref name="writer"/>,
    /// each prefixed with the path of the offending node (e.g. <c>/fields/lines/items/fields/sku: ...</c>).
    /// Empty when the reader can read everything the writer writes.
    /// </summary>
    public static IReadOnlyList<string> FindBackwardIncompatibilities(Schema reader, Schema writer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        var problems = new Checker().Check(reader, writer);
        return problems.Select(p => $"{(p.Path.Length == 0 ? "/" : p.Path)}: {p.Message}").ToList();
    }

    /// <summary>True when <paramref name="reader"/> can read all data written with <paramref name="writer"/>.</summary>
    public static bool IsBackwardCompatible(Schema reader, Schema writer) =>
        FindBackwardIncompatibilities(reader, writer).Count == 0;

    private readonly record struct Problem(string Path, string Message)
    {
        public Problem Under(string segment) => this with { Path = "/" + segment + Path };
    }

    private sealed class PairComparer : IEqualityComparer<(Schema Reader, Schema Writer)>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals((Schema Reader, Schema Writer) x, (Schema Reader, Schema Writer) y) =>
            ReferenceEquals(x.Reader, y.Reader) && ReferenceEquals(x.Writer, y.Writer);

        public int GetHashCode((Schema Reader, Schema Writer) obj) =>
            HashCode.Combine(
                System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Reader),
                System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Writer));
    }

    private sealed class Checker
    {
        private static readonly List<Problem> None = [];

        // Named types may be recursive. A pair under evaluation is assumed compatible (co-inductive, as Avro Java does);
        // a finished pair's problems are memoised with paths relative to the pair so a revisit reports them again
        // at its own location, and a union-branch trial can never poison a later real check.
        private readonly HashSet<(Schema, Schema)> _inProgress = new(PairComparer.Instance);
        private readonly Dictionary<(Schema, Schema), List<Problem>> _done = new(PairComparer.Instance);

        public List<Problem> Check(Schema reader, Schema writer)
        {
            reader = Unwrap(reader);
            writer = Unwrap(writer);
            if (!IsNamed(reader) || !IsNamed(writer))
            {
                return CheckCore(reader, writer);
            }

            var key = (reader, writer);
            if (_done.TryGetValue(key, out var known))
            {
                return known;
            }

            if (!_inProgress.Add(key))
            {
                return None;
            }

            try
            {
                var problems = CheckCore(reader, writer);
                _done[key] = problems;
                return problems;
            }
            finally
            {
                _inProgress.Remove(key);
            }
        }

        private List<Problem> CheckCore(Schema reader, Schema writer)
        {
            if (writer is UnionSchema writerUnion)
            {
                return CheckWriterUnion(reader, writerUnion);
            }

            if (reader is UnionSchema readerUnion)
            {
                return CheckReaderUnion(readerUnion, writer);
            }

            if (reader.Tag == writer.Tag)
            {
                return reader switch
                {
                    RecordSchema r => CheckRecord(r, (RecordSchema)writer),
                    EnumSchema e => CheckEnum(e, (EnumSchema)writer),
                    FixedSchema f => CheckFixed(f, (FixedSchema)writer),
                    ArraySchema a => Check(a.ItemSchema, ((ArraySchema)writer).ItemSchema).Select(p => p.Under("items")).ToList(),
                    MapSchema m => Check(m.ValueSchema, ((MapSchema)writer).ValueSchema).Select(p => p.Under("values")).ToList(),
                    _ => None,
                };
            }

            return IsPromotable(writer.Tag, reader.Tag)
                ? None
                : [new Problem("", $"reader type {Describe(reader)} not compatible with writer type {Describe(writer)}")];
        }

        private List<Problem> CheckWriterUnion(Schema reader, UnionSchema writer)
        {
            // Any branch may have been written, so every branch must resolve.
            var problems = new List<Problem>();
            for (var i = 0; i < writer.Count; i++)
            {
                var segment = i.ToString(CultureInfo.InvariantCulture);
                problems.AddRange(Check(reader, writer[i]).Select(p => p.Under(segment)));
            }

            return problems;
        }

        private List<Problem> CheckReaderUnion(UnionSchema reader, Schema writer)
        {
            List<Problem>? closest = null;
            foreach (var branch in reader.Schemas)
            {
                var problems = Check(branch, writer);
                if (problems.Count == 0)
                {
                    return None;
                }

                // Report the detail of the branch the writer type was evidently meant for, not a generic miss.
                if (closest is null && SameKind(Unwrap(branch), writer))
                {
                    closest = problems;
                }
            }

            return closest ?? [new Problem("", $"reader union {Describe(reader)} has no branch for writer type {Describe(writer)}")];
        }

        private List<Problem> CheckRecord(RecordSchema reader, RecordSchema writer)
        {
            if (!NamesMatch(reader, writer))
            {
                return [NameMismatch("record", reader, writer)];
            }

            var problems = new List<Problem>();
            foreach (var readerField in reader.Fields)
            {
                var segment = "fields/" + readerField.Name;
                var writerField = FindWriterField(writer, readerField);
                if (writerField is null)
                {
                    if (readerField.DefaultValue is null)
                    {
                        problems.Add(new Problem("/" + segment, "reader field without default missing in writer"));
                    }

                    continue;
                }

                problems.AddRange(Check(readerField.Schema, writerField.Schema).Select(p => p.Under(segment)));
            }

            return problems;
        }

        private static Field? FindWriterField(RecordSchema writer, Field readerField)
        {
            if (writer.TryGetField(readerField.Name, out var direct))
            {
                return direct;
            }

            foreach (var alias in readerField.Aliases ?? [])
            {
                if (writer.TryGetField(alias, out var aliased))
                {
                    return aliased;
                }
            }

            return null;
        }

        private static List<Problem> CheckEnum(EnumSchema reader, EnumSchema writer)
        {
            if (!NamesMatch(reader, writer))
            {
                return [NameMismatch("enum", reader, writer)];
            }

            var missing = writer.Symbols.Where(s => !reader.Contains(s)).ToList();
            if (missing.Count == 0 || (reader.Default is { } fallback && reader.Contains(fallback)))
            {
                return None;
            }

            return [new Problem("/symbols", $"writer enum symbols [{string.Join(", ", missing)}] missing in reader enum {reader.Fullname}, which has no default")];
        }

        private static List<Problem> CheckFixed(FixedSchema reader, FixedSchema writer)
        {
            if (!NamesMatch(reader, writer))
            {
                return [NameMismatch("fixed", reader, writer)];
            }

            return reader.Size == writer.Size
                ? None
                : [new Problem("/size", $"reader fixed {reader.Fullname} has size {reader.Size}, writer has size {writer.Size}")];
        }

        private static Problem NameMismatch(string kind, NamedSchema reader, NamedSchema writer) =>
            new("/name", $"reader {kind} name {reader.Fullname} does not match writer {kind} name {writer.Fullname} (and is not a reader alias)");

        // Avro Java (and so Confluent) matches named types by unqualified name, or by a reader alias equal to the writer's full name.
        private static bool NamesMatch(NamedSchema reader, NamedSchema writer) =>
            string.Equals(reader.Name, writer.Name, StringComparison.Ordinal)
            || ReaderAliases(reader).Any(a => string.Equals(a.Fullname, writer.Fullname, StringComparison.Ordinal));

        // Apache.Avro 1.12 keeps a named schema's aliases in a protected field with no public accessor.
        private static readonly System.Reflection.FieldInfo? AliasesField =
            typeof(NamedSchema).GetField("aliases", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);

        private static IEnumerable<SchemaName> ReaderAliases(NamedSchema reader) =>
            AliasesField?.GetValue(reader) as IEnumerable<SchemaName> ?? [];

        private static bool IsPromotable(Schema.Type writer, Schema.Type reader) => (writer, reader) switch
        {
            (Schema.Type.Int, Schema.Type.Long or Schema.Type.Float or Schema.Type.Double) => true,
            (Schema.Type.Long, Schema.Type.Float or Schema.Type.Double) => true,
            (Schema.Type.Float, Schema.Type.Double) => true,
            (Schema.Type.String, Schema.Type.Bytes) => true,
            (Schema.Type.Bytes, Schema.Type.String) => true,
            _ => false,
        };

        private static bool SameKind(Schema a, Schema b) =>
            a.Tag == b.Tag && (a is not NamedSchema na || b is not NamedSchema nb || NamesMatch(na, nb));

        private static bool IsNamed(Schema s) => s is NamedSchema;

        // Logical types annotate an underlying type; resolution works on the underlying type (as Avro Java does).
        private static Schema Unwrap(Schema s) => s is LogicalSchema l ? l.BaseSchema : s;

        private static string Describe(Schema s) => s switch
        {
            NamedSchema n => $"{Schema.GetTypeString(n.Tag)} {n.Fullname}",
            UnionSchema u => "[" + string.Join(", ", u.Schemas.Select(b => Describe(Unwrap(b)))) + "]",
            ArraySchema => "array",
            MapSchema => "map",
            _ => Schema.GetTypeString(s.Tag),
        };
    }
}
