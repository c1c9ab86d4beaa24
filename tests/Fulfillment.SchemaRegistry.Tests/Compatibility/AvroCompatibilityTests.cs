using Avro;
using Fulfillment.Schemas.Compatibility;

namespace Fulfillment.SchemaRegistry.Tests.Compatibility;

public class AvroCompatibilityTests
{
    private static string Rec(string fields, string name = "Order", string extra = "") =>
        $$"""{"type":"record","name":"{{name}}","namespace":"fulfillment.test"{{extra}},"fields":[{{fields}}]}""";

    private static string F(string name, string type, string extra = "") => $$"""{"name":"{{name}}","type":{{type}}{{extra}}}""";

    // reader, writer, expected problem (null = compatible).
    public static TheoryData<string, string, string, string?> Cases => new()
    {
        { "identical record", Rec(F("id", "\"string\"")), Rec(F("id", "\"string\"")), null },
        { "reader adds field with default", Rec(F("id", "\"string\"") + "," + F("qty", "\"int\"", ",\"default\":0")), Rec(F("id", "\"string\"")), null },
        { "reader adds nullable field with null default", Rec(F("id", "\"string\"") + "," + F("note", "[\"null\",\"string\"]", ",\"default\":null")), Rec(F("id", "\"string\"")), null },
        { "reader adds field without default", Rec(F("id", "\"string\"") + "," + F("qty", "\"int\"")), Rec(F("id", "\"string\"")), "/fields/qty: reader field without default missing in writer" },
        { "reader drops writer field", Rec(F("id", "\"string\"")), Rec(F("id", "\"string\"") + "," + F("qty", "\"int\"")), null },
        { "int promoted to long", Rec(F("q", "\"long\"")), Rec(F("q", "\"int\"")), null },
        { "int promoted to float", Rec(F("q", "\"float\"")), Rec(F("q", "\"int\"")), null },
        { "int promoted to double", Rec(F("q", "\"double\"")), Rec(F("q", "\"int\"")), null },
        { "long promoted to float", Rec(F("q", "\"float\"")), Rec(F("q", "\"long\"")), null },
        { "long promoted to double", Rec(F("q", "\"double\"")), Rec(F("q", "\"long\"")), null },
        { "float promoted to double", Rec(F("q", "\"double\"")), Rec(F("q", "\"float\"")), null },
        { "string read as bytes", Rec(F("q", "\"bytes\"")), Rec(F("q", "\"string\"")), null },
        { "bytes read as string", Rec(F("q", "\"string\"")), Rec(F("q", "\"bytes\"")), null },
        { "long narrowed to int", Rec(F("q", "\"int\"")), Rec(F("q", "\"long\"")), "/fields/q: reader type int not compatible with writer type long" },
        { "double narrowed to float", Rec(F("q", "\"float\"")), Rec(F("q", "\"double\"")), "/fields/q: reader type float not compatible with writer type double" },
        { "string changed to int", Rec(F("q", "\"int\"")), Rec(F("q", "\"string\"")), "/fields/q: reader type int not compatible with writer type string" },
        { "boolean not promoted", Rec(F("q", "\"int\"")), Rec(F("q", "\"boolean\"")), "/fields/q: reader type int not compatible with writer type boolean" },
        {
            "nested array record field added without default",
            Rec(F("lines", """{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"qty","type":"int"},{"name":"sku","type":"string"}]}}""")),
            Rec(F("lines", """{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"qty","type":"int"}]}}""")),
            "/fields/lines/items/fields/sku: reader field without default missing in writer"
        },
        { "map values promoted", Rec(F("m", """{"type":"map","values":"long"}""")), Rec(F("m", """{"type":"map","values":"int"}""")), null },
        { "map values narrowed", Rec(F("m", """{"type":"map","values":"int"}""")), Rec(F("m", """{"type":"map","values":"long"}""")), "/fields/m/values: reader type int not compatible with writer type long" },
        { "array items narrowed", Rec(F("a", """{"type":"array","items":"int"}""")), Rec(F("a", """{"type":"array","items":"string"}""")), "/fields/a/items: reader type int not compatible with writer type string" },
        { "array read as map", Rec(F("a", """{"type":"map","values":"int"}""")), Rec(F("a", """{"type":"array","items":"int"}""")), "/fields/a: reader type map not compatible with writer type array" },
        { "enum gains symbol in reader", Rec(F("s", """{"type":"enum","name":"S","symbols":["A","B","C"]}""")), Rec(F("s", """{"type":"enum","name":"S","symbols":["A","B"]}""")), null },
        { "enum loses symbol in reader", Rec(F("s", """{"type":"enum","name":"S","symbols":["A"]}""")), Rec(F("s", """{"type":"enum","name":"S","symbols":["A","B"]}""")), "/fields/s/symbols: writer enum symbols [B] missing in reader enum fulfillment.test.S, which has no default" },
        { "enum loses symbol but reader has default", Rec(F("s", """{"type":"enum","name":"S","symbols":["UNKNOWN","A"],"default":"UNKNOWN"}""")), Rec(F("s", """{"type":"enum","name":"S","symbols":["A","B"]}""")), null },
        { "enum renamed", Rec(F("s", """{"type":"enum","name":"T","symbols":["A"]}""")), Rec(F("s", """{"type":"enum","name":"S","symbols":["A"]}""")), "/fields/s/name: reader enum name fulfillment.test.T does not match writer enum name fulfillment.test.S (and is not a reader alias)" },
        { "fixed same", Rec(F("h", """{"type":"fixed","name":"H","size":16}""")), Rec(F("h", """{"type":"fixed","name":"H","size":16}""")), null },
        { "fixed size changed", Rec(F("h", """{"type":"fixed","name":"H","size":32}""")), Rec(F("h", """{"type":"fixed","name":"H","size":16}""")), "/fields/h/size: reader fixed fulfillment.test.H has size 32, writer has size 16" },
        { "fixed renamed", Rec(F("h", """{"type":"fixed","name":"G","size":16}""")), Rec(F("h", """{"type":"fixed","name":"H","size":16}""")), "/fields/h/name: reader fixed name fulfillment.test.G does not match writer fixed name fulfillment.test.H (and is not a reader alias)" },
        { "record renamed", Rec(F("id", "\"string\""), name: "Shipment"), Rec(F("id", "\"string\"")), "/name: reader record name fulfillment.test.Shipment does not match writer record name fulfillment.test.Order (and is not a reader alias)" },
        { "record renamed with reader alias", Rec(F("id", "\"string\""), name: "Shipment", extra: ",\"aliases\":[\"Order\"]"), Rec(F("id", "\"string\"")), null },
        { "record namespace changed (unqualified names match, as Avro Java)", Rec(F("id", "\"string\"")).Replace("fulfillment.test", "other.ns", StringComparison.Ordinal), Rec(F("id", "\"string\"")), null },
        { "field renamed with reader alias", Rec(F("orderId", "\"string\"", ",\"aliases\":[\"id\"]")), Rec(F("id", "\"string\"")), null },
        { "field renamed without alias", Rec(F("orderId", "\"string\"")), Rec(F("id", "\"string\"")), "/fields/orderId: reader field without default missing in writer" },
        { "writer union subset of reader union", Rec(F("u", """["null","string","int"]""")), Rec(F("u", """["null","string"]""")), null },
        { "writer union has branch reader lacks", Rec(F("u", """["null","string"]""")), Rec(F("u", """["null","string","int"]""")), "/fields/u/2: reader union [null, string] has no branch for writer type int" },
        { "non-union writer read by union reader", Rec(F("u", """["null","string"]""")), Rec(F("u", "\"string\"")), null },
        { "non-union writer promoted into union reader", Rec(F("u", """["null","double"]""")), Rec(F("u", "\"int\"")), null },
        { "union writer read by non-union reader", Rec(F("u", "\"string\"")), Rec(F("u", """["null","string"]""")), "/fields/u/0: reader type string not compatible with writer type null" },
        {
            "record inside union reports the branch's own problem",
            Rec(F("c", """["null",{"type":"record","name":"Customer","fields":[{"name":"email","type":"string"}]}]""")),
            Rec(F("c", """["null",{"type":"record","name":"Customer","fields":[]}]""")),
            "/fields/c/1/fields/email: reader field without default missing in writer"
        },
        { "logical type on long read as long", Rec(F("t", "\"long\"")), Rec(F("t", """{"type":"long","logicalType":"timestamp-millis"}""")), null },
        { "top level primitive promotion", "\"long\"", "\"int\"", null },
        { "top level primitive mismatch", "\"int\"", "\"string\"", "/: reader type int not compatible with writer type string" },
        {
            "recursive type identical",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}""",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}""",
            null
        },
        {
            "recursive type with field promoted",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}""",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}""",
            null
        },
        {
            "recursive type with reader field lacking default",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"w","type":"int"},{"name":"next","type":["null","Node"]}]}""",
            """{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}""",
            "/fields/w: reader field without default missing in writer"
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FindBackwardIncompatibilities_TableCase_MatchesAvroResolutionRules(string name, string reader, string writer, string? expected)
    {
        var problems = AvroCompatibility.FindBackwardIncompatibilities(Schema.Parse(reader), Schema.Parse(writer));

        if (expected is null)
        {
            problems.ShouldBeEmpty(name);
            AvroCompatibility.IsBackwardCompatible(Schema.Parse(reader), Schema.Parse(writer)).ShouldBeTrue(name);
        }
        else
        {
            problems.ShouldContain(expected, name);
            AvroCompatibility.IsBackwardCompatible(Schema.Parse(reader), Schema.Parse(writer)).ShouldBeFalse(name);
        }
    }

    [Fact]
    public void FindBackwardIncompatibilities_SeveralProblems_ReportsEachWithItsPath()
    {
        var reader = Schema.Parse(Rec(F("a", "\"int\"") + "," + F("b", "\"string\"") + "," + F("c", "\"int\"")));
        var writer = Schema.Parse(Rec(F("a", "\"string\"") + "," + F("b", "\"string\"")));

        AvroCompatibility.FindBackwardIncompatibilities(reader, writer).ShouldBe(
        [
            "/fields/a: reader type int not compatible with writer type string",
            "/fields/c: reader field without default missing in writer",
        ]);
    }

    [Fact]
    public void FindBackwardIncompatibilities_SameRecordTypeUsedTwice_ReportsProblemAtBothPaths()
    {
        const string Addr = """{"type":"record","name":"Address","fields":[{"name":"zip","type":"string"}]}""";
        const string AddrV2 = """{"type":"record","name":"Address","fields":[{"name":"zip","type":"string"},{"name":"country","type":"string"}]}""";
        var writer = Schema.Parse(Rec(F("ship", Addr) + "," + F("bill", "\"Address\"")));
        var reader = Schema.Parse(Rec(F("ship", AddrV2) + "," + F("bill", "\"Address\"")));

        AvroCompatibility.FindBackwardIncompatibilities(reader, writer).ShouldBe(
        [
            "/fields/ship/fields/country: reader field without default missing in writer",
            "/fields/bill/fields/country: reader field without default missing in writer",
        ]);
    }
}
