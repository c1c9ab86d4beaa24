using Avro;
using Fulfillment.Schemas.Sources;

namespace Fulfillment.Schemas.Tests;

public class SchemaFileTests
{
    private const string RootNamespace = "Fulfillment.Schemas";

    public static TheoryData<string> Files() => [.. EmbeddedSchemas.Current.Files.Select(f => f.Path)];

    private static AvscFile File(string path) => EmbeddedSchemas.Current.Files.Single(f => f.Path == path);

    [Fact]
    public void EmbeddedSchemas_AllFiles_ParseIntoOneSet()
    {
        var set = EmbeddedSchemas.Current;

        set.Files.Count.ShouldBeGreaterThan(50);
        set.Names.Names.Count.ShouldBe(set.Files.Count);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void SchemaFile_Path_IsNamespaceFolderAndTypeName(string path)
    {
        var schema = File(path).Schema;

        schema.Namespace.ShouldStartWith(RootNamespace + ".");
        path.ShouldBe($"{schema.Namespace[(RootNamespace.Length + 1)..].Replace('.', '/')}/{schema.Name}.avsc");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void SchemaFile_Alone_ParsesWithAvroOnceItsReferencesAreKnown(string path)
    {
        // The text as shipped (registry registration reads it) must be valid Avro on its own terms.
        var names = new SchemaNames();
        foreach (var earlier in EmbeddedSchemas.Current.Files.TakeWhile(f => f.Path != path))
        {
            names.Add(earlier.Schema);
        }

        var parsed = Schema.Parse(File(path).Text, names, null);

        parsed.ShouldBeAssignableTo<NamedSchema>().Fullname.ShouldBe(File(path).Schema.Fullname);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void SchemaFile_OptionalFields_ListNullFirstAndDefaultToNull(string path)
    {
        if (File(path).Schema is not RecordSchema record)
        {
            return;
        }

        foreach (var field in record.Fields.Where(f => f.Schema is UnionSchema u && u.Schemas.Any(s => s.Tag == Schema.Type.Null)))
        {
            var union = (UnionSchema)field.Schema;
            union.Schemas[0].Tag.ShouldBe(Schema.Type.Null, $"{record.Fullname}.{field.Name}: null first");
            field.DefaultValue.ShouldNotBeNull($"{record.Fullname}.{field.Name}: default null");
            field.DefaultValue.Type.ShouldBe(Newtonsoft.Json.Linq.JTokenType.Null, $"{record.Fullname}.{field.Name}: default null");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void GeneratedType_Schema_IsTheSchemaOfTheFile(string path)
    {
        var schema = File(path).Schema;
        var type = AvroValues.ClrTypeOf(schema);

        if (schema is RecordSchema)
        {
            var generated = (Schema)type.GetField("_SCHEMA")!.GetValue(null)!;
            generated.ToString().ShouldBe(schema.ToString());
        }
        else if (schema is EnumSchema e)
        {
            Enum.GetNames(type).ShouldBe(e.Symbols);
        }
    }

    [Fact]
    public void AvscSet_FilesInAnyOrder_ParseInDependencyOrder()
    {
        var reversed = EmbeddedSchemas.Current.Files.Reverse().Select(f => new AvscSource(f.Path, f.Text));

        var set = AvscSet.Parse(reversed);

        set.Files.Count.ShouldBe(EmbeddedSchemas.Current.Files.Count);
        var seen = new HashSet<string>();
        foreach (var file in set.Files)
        {
            seen.Add(file.Schema.Fullname);
            foreach (var reference in NamedReferences(file.Schema))
            {
                seen.ShouldContain(reference, $"{file.Path} is parsed after what it references");
            }
        }
    }

    [Fact]
    public void AvscSet_UnknownReference_FailsNamingTheFile()
    {
        var sources = new[]
        {
            new AvscSource("A/Good.avsc", """{"type": "record", "name": "Good", "namespace": "X.A", "fields": [{"name": "a", "type": "int"}]}"""),
            new AvscSource("A/Broken.avsc", """{"type": "record", "name": "Broken", "namespace": "X.A", "fields": [{"name": "m", "type": "X.A.Missing"}]}"""),
        };

        var error = Should.Throw<AvscParseException>(() => AvscSet.Parse(sources));

        error.Message.ShouldContain("A/Broken.avsc");
        error.Message.ShouldContain("X.A.Missing");
        error.Message.ShouldNotContain("A/Good.avsc");
        error.Errors.ShouldHaveSingleItem().Path.ShouldBe("A/Broken.avsc");
    }

    [Fact]
    public void AvscSet_FileDefiningTwoNamedTypes_IsRejected()
    {
        var sources = new[]
        {
            new AvscSource("A/Outer.avsc", """{"type": "record", "name": "Outer", "namespace": "X.A", "fields": [{"name": "e", "type": {"type": "enum", "name": "Inner", "symbols": ["A"]}}]}"""),
        };

        var error = Should.Throw<AvscParseException>(() => AvscSet.Parse(sources));

        error.Message.ShouldContain("one named type per file");
    }

    [Fact]
    public void AvscSet_DuplicateName_IsRejected()
    {
        const string Text = """{"type": "enum", "name": "E", "namespace": "X.A", "symbols": ["A"]}""";

        Should.Throw<AvscParseException>(() => AvscSet.Parse([new AvscSource("A/E.avsc", Text), new AvscSource("B/E.avsc", Text)]));
    }

    private static IEnumerable<string> NamedReferences(Schema schema, bool top = true)
    {
        switch (schema)
        {
            case RecordSchema record when top:
                return record.Fields.SelectMany(f => NamedReferences(f.Schema, top: false));
            case NamedSchema named when !top:
                return [named.Fullname];
            case ArraySchema array:
                return NamedReferences(array.ItemSchema, top: false);
            case MapSchema map:
                return NamedReferences(map.ValueSchema, top: false);
            case UnionSchema union:
                return union.Schemas.SelectMany(s => NamedReferences(s, top: false));
            default:
                return [];
        }
    }
}
