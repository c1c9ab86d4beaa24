using System.Globalization;
using Avro;
using CsCheck;
using Fulfillment.Schemas.Compatibility;

namespace Fulfillment.SchemaRegistry.Tests.Compatibility;

public class AvroCompatibilityPropertyTests
{
    /// <summary>A random Avro type tree; rendered to JSON with unique names for named types.</summary>
    public sealed record TypeNode(string Kind, TypeNode[] Children, int Size);

    private static readonly string[] Primitives = ["int", "long", "float", "double", "string", "bytes", "boolean"];

    private static Gen<TypeNode> Node(int depth)
    {
        var primitive = Gen.OneOfConst(Primitives).Select(p => new TypeNode(p, [], 0));
        if (depth == 0)
        {
            return primitive;
        }

        var child = Node(depth - 1);
        return Gen.OneOf(
            primitive,
            primitive,
            child.Select(c => new TypeNode("array", [c], 0)),
            child.Select(c => new TypeNode("map", [c], 0)),
            child.Select(c => new TypeNode("nullable", [c], 0)),
            Gen.Int[1, 5].Select(n => new TypeNode("enum", [], n)),
            Gen.Int[1, 16].Select(n => new TypeNode("fixed", [], n)),
            child.Array[0, 4].Select(cs => new TypeNode("record", cs, 0)));
    }

    private static readonly Gen<TypeNode> Root = Node(3).Array[1, 5].Select(cs => new TypeNode("record", cs, 0));

    // Named types are named after their path, so removing or adding a field never renames the others.
    private static string Render(TypeNode node, string path) => node.Kind switch
    {
        "array" => $$"""{"type":"array","items":{{Render(node.Children[0], path + "_i")}}}""",
        "map" => $$"""{"type":"map","values":{{Render(node.Children[0], path + "_v")}}}""",
        "nullable" when node.Children[0].Kind == "nullable" => Render(node.Children[0], path),
        "nullable" => $"""["null",{Render(node.Children[0], path + "_n")}]""",
        "enum" => $$"""{"type":"enum","name":"E{{path}}","symbols":[{{string.Join(",", Enumerable.Range(0, node.Size).Select(i => $"\"S{i}\""))}}]}""",
        "fixed" => $$"""{"type":"fixed","name":"X{{path}}","size":{{node.Size}}}""",
        "record" => RenderRecord(node, path, skipField: -1, extraField: ""),
        _ => $"\"{node.Kind}\"",
    };

    private static string RenderRecord(TypeNode node, string path, int skipField, string extraField)
    {
        var fields = new List<string>();
        for (var i = 0; i < node.Children.Length; i++)
        {
            if (i != skipField)
            {
                fields.Add($$"""{"name":"f{{i}}","type":{{Render(node.Children[i], path + "_" + i.ToString(CultureInfo.InvariantCulture))}}}""");
            }
        }

        if (extraField.Length > 0)
        {
            fields.Add(extraField);
        }

        return $$"""{"type":"record","name":"R{{path}}","fields":[{{string.Join(",", fields)}}]}""";
    }

    [Fact]
    public void FindBackwardIncompatibilities_ReaderEqualsWriter_AlwaysCompatible() =>
        Root.Sample(root =>
        {
            var json = Render(root, "");
            AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(json), Schema.Parse(json)).ShouldBeEmpty(json);
        }, iter: 300);

    [Fact]
    public void FindBackwardIncompatibilities_ReaderAddsOptionalFieldWithDefault_AlwaysCompatible() =>
        Gen.Select(Root, Node(2)).Sample((root, added) =>
        {
            var type = Render(added, "_added");
            var optional = added.Kind == "nullable" ? type : $"""["null",{type}]""";
            var writer = Render(root, "");
            var reader = RenderRecord(root, "", skipField: -1, extraField: $$"""{"name":"added","type":{{optional}},"default":null}""");
            AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(reader), Schema.Parse(writer)).ShouldBeEmpty(reader);
        }, iter: 300);

    [Fact]
    public void FindBackwardIncompatibilities_ReaderAddsRequiredField_AlwaysIncompatible() =>
        Gen.Select(Root, Gen.OneOfConst(Primitives)).Sample((root, type) =>
        {
            var writer = Render(root, "");
            var reader = RenderRecord(root, "", skipField: -1, extraField: $$"""{"name":"added","type":"{{type}}"}""");
            AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(reader), Schema.Parse(writer))
                .ShouldBe(["/fields/added: reader field without default missing in writer"]);
        }, iter: 300);

    [Fact]
    public void FindBackwardIncompatibilities_ReaderDropsAWriterField_AlwaysCompatible() =>
        Root.SelectMany(root => Gen.Int[0, root.Children.Length - 1].Select(drop => (root, drop))).Sample(t =>
        {
            var writer = Render(t.root, "");
            var reader = RenderRecord(t.root, "", t.drop, extraField: "");
            AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(reader), Schema.Parse(writer)).ShouldBeEmpty(reader);
        }, iter: 300);

    [Fact]
    public void FindBackwardIncompatibilities_WriterDropsAReaderFieldWithoutDefault_AlwaysIncompatible() =>
        Root.SelectMany(root => Gen.Int[0, root.Children.Length - 1].Select(drop => (root, drop))).Sample(t =>
        {
            var reader = Render(t.root, "");
            var writer = RenderRecord(t.root, "", t.drop, extraField: "");
            AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(reader), Schema.Parse(writer))
                .ShouldContain($"/fields/f{t.drop}: reader field without default missing in writer");
        }, iter: 300);
}
