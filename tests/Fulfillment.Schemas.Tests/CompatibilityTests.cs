using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Avro;
using Fulfillment.Schemas.Compatibility;
using Fulfillment.Schemas.Sources;

namespace Fulfillment.Schemas.Tests;

/// <summary>
/// Every schema must stay BACKWARD compatible with its last released version (schemas/released): a consumer on the new
/// schema reads everything producers wrote with the released one, which is also what the schema registry enforces.
/// </summary>
public class CompatibilityTests
{
    private static readonly string ReleasedDir = Path.Combine(AppContext.BaseDirectory, "released");

    private static readonly Lazy<AvscSet> Released = new(() => AvscSet.Load(Path.Combine(ReleasedDir, "avro")));

    public static TheoryData<string> ReleasedNames() =>
        [.. Manifest()["schemas"]!.AsArray().Select(s => (string)s!["name"]!)];

    private static JsonNode Manifest() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(ReleasedDir, "manifest.json")))
        ?? throw new InvalidOperationException("released/manifest.json is empty.");

    [Fact]
    public void ReleasedManifest_ListsExactlyTheReleasedFilesWithTheirHashes()
    {
        var manifest = Manifest();
        ((string?)manifest["version"]).ShouldNotBeNullOrWhiteSpace();
        var entries = manifest["schemas"]!.AsArray().Select(e => (Name: (string)e!["name"]!, File: (string)e["file"]!, Sha: (string)e["sha256"]!)).ToList();

        entries.Select(e => e.File).ShouldBe(Released.Value.Files.Select(f => "avro/" + f.Path), ignoreOrder: true);
        foreach (var entry in entries)
        {
            var file = Released.Value.Files.Single(f => "avro/" + f.Path == entry.File);
            file.Schema.Fullname.ShouldBe(entry.Name);
            // A released schema is history: editing it in place would let an incompatible change through.
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(file.Text))).ShouldBe(entry.Sha, $"{entry.File} was edited after release");
        }
    }

    [Theory]
    [MemberData(nameof(ReleasedNames))]
    public void CurrentSchema_ComparedToReleased_StillExists(string fullName)
    {
        EmbeddedSchemas.Current.TryGetFile(fullName, out _).ShouldBeTrue($"{fullName} was released and must not be removed or renamed");
    }

    [Theory]
    [MemberData(nameof(ReleasedNames))]
    public void CurrentSchema_ReadingDataWrittenWithReleased_IsBackwardCompatible(string fullName)
    {
        var current = EmbeddedSchemas.Current[fullName];
        var released = Released.Value[fullName];

        AvroCompatibility.FindBackwardIncompatibilities(reader: current, writer: released).ShouldBeEmpty();
    }

    [Fact]
    public void Check_NewFieldWithoutDefault_IsIncompatible()
    {
        var edited = EditCurrent("Orders/OrderLine.avsc", fields => fields.Add(new JsonObject { ["name"] = "weight_grams", ["type"] = "int" }));

        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Orders.OrderLine"], Released.Value["Fulfillment.Schemas.Orders.OrderLine"])
            .ShouldNotBeEmpty();
        // The topic subject sees it too: the line is nested in the order envelope.
        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Orders.OrderEvent"], Released.Value["Fulfillment.Schemas.Orders.OrderEvent"])
            .ShouldNotBeEmpty();
        // And Avro's own resolver agrees once an order with lines is read.
        Should.Throw<AvroException>(() => ReadReleasedOrdersWith(edited["Fulfillment.Schemas.Orders.OrderEvent"]));
    }

    [Fact]
    public void Check_NewOptionalFieldWithNullDefault_IsCompatible()
    {
        var edited = EditCurrent("Orders/OrderLine.avsc", fields => fields.Add(new JsonObject
        {
            ["name"] = "weight_grams",
            ["type"] = new JsonArray("null", "int"),
            ["default"] = null,
        }));

        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Orders.OrderEvent"], Released.Value["Fulfillment.Schemas.Orders.OrderEvent"])
            .ShouldBeEmpty();
        ReadReleasedOrdersWith(edited["Fulfillment.Schemas.Orders.OrderEvent"]);
    }

    [Fact]
    public void Check_RemovedEnumSymbol_IsIncompatible()
    {
        var edited = EditCurrentText("Common/Channel.avsc", schema => schema["symbols"]!.AsArray().RemoveAt(schema["symbols"]!.AsArray().Count - 1));

        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Common.Channel"], Released.Value["Fulfillment.Schemas.Common.Channel"])
            .ShouldNotBeEmpty();
        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Orders.OrderEvent"], Released.Value["Fulfillment.Schemas.Orders.OrderEvent"])
            .ShouldNotBeEmpty();
    }

    [Fact]
    public void Check_RemovedBodyBranch_IsIncompatible()
    {
        var edited = EditCurrent("Orders/OrderEvent.avsc", fields => fields[1]!["type"]!.AsArray().RemoveAt(2));

        AvroCompatibility.FindBackwardIncompatibilities(edited["Fulfillment.Schemas.Orders.OrderEvent"], Released.Value["Fulfillment.Schemas.Orders.OrderEvent"])
            .ShouldNotBeEmpty();
    }

    /// <summary>Writes an order with lines in the released schema and reads it with <paramref name="reader"/> through
    /// Avro's generic resolving reader; throws as Avro does when the reader cannot read it.</summary>
    private static void ReadReleasedOrdersWith(Schema reader)
    {
        var writer = (RecordSchema)Released.Value["Fulfillment.Schemas.Orders.OrderEvent"];
        writer.ToString().ShouldBe(Orders.OrderEvent._SCHEMA.ToString(), "this check writes released-shaped bytes with today's classes");

        using var stream = new MemoryStream(AvroValues.Write(SampleData.OrderPlaced()));
        var read = new Avro.Generic.GenericDatumReader<Avro.Generic.GenericRecord>(writer, reader)
            .Read(null!, new Avro.IO.BinaryDecoder(stream));

        read.ShouldNotBeNull();
    }

    /// <summary>The current schemas with one file's field list edited, parsed in memory (nothing on disk changes).</summary>
    private static AvscSet EditCurrent(string path, Action<JsonArray> editFields) =>
        EditCurrentText(path, schema => editFields(schema["fields"]!.AsArray()));

    private static AvscSet EditCurrentText(string path, Action<JsonObject> edit)
    {
        var sources = EmbeddedSchemas.Current.Files.Select(f =>
        {
            if (f.Path != path)
            {
                return new AvscSource(f.Path, f.Text);
            }

            var json = JsonNode.Parse(f.Text)!.AsObject();
            edit(json);
            return new AvscSource(f.Path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        });
        return AvscSet.Parse(sources.ToList());
    }
}
