using Avro;
using Fulfillment.Schemas.Compatibility;

namespace Fulfillment.SchemaRegistry.Tests.Compatibility;

public class AvroDefaultsTests
{
    private static Schema Rec(string type, string defaultJson) =>
        Schema.Parse($$"""{"type":"record","name":"R","fields":[{"name":"f","type":{{type}},"default":{{defaultJson}}}]}""");

    [Theory]
    [InlineData("\"int\"", "0")]
    [InlineData("\"long\"", "9999999999")]
    [InlineData("\"double\"", "1")]
    [InlineData("\"float\"", "1.5")]
    [InlineData("\"string\"", "\"x\"")]
    [InlineData("\"bytes\"", "\"\\u00ff\"")]
    [InlineData("\"boolean\"", "true")]
    [InlineData("[\"null\",\"string\"]", "null")]
    [InlineData("[\"string\",\"null\"]", "\"s\"")]
    [InlineData("{\"type\":\"array\",\"items\":\"int\"}", "[1,2]")]
    [InlineData("{\"type\":\"map\",\"values\":\"long\"}", "{\"a\":1}")]
    [InlineData("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\"A\"")]
    [InlineData("{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\",\"default\":1}]}", "{\"a\":1}")]
    [InlineData("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "0")]
    public void FindInvalidDefaults_DefaultFitsType_None(string type, string defaultJson) =>
        AvroDefaults.FindInvalidDefaults(Rec(type, defaultJson)).ShouldBeEmpty();

    [Theory]
    [InlineData("\"int\"", "\"zero\"")]
    [InlineData("\"int\"", "9999999999")]
    [InlineData("\"int\"", "1.5")]
    [InlineData("\"string\"", "1")]
    [InlineData("\"boolean\"", "\"true\"")]
    [InlineData("\"string\"", "null")]
    [InlineData("[\"null\",\"string\"]", "1")]
    [InlineData("{\"type\":\"array\",\"items\":\"int\"}", "[\"a\"]")]
    [InlineData("{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}", "{}")]
    public void FindInvalidDefaults_DefaultDoesNotFit_ReportsFieldPath(string type, string defaultJson) =>
        AvroDefaults.FindInvalidDefaults(Rec(type, defaultJson)).ShouldHaveSingleItem().ShouldStartWith("/fields/f: default ");

    [Fact]
    public void FindInvalidDefaults_NestedRecord_ReportsNestedPath()
    {
        var schema = Schema.Parse("""
            {"type":"record","name":"R","fields":[{"name":"lines","type":{"type":"array","items":
              {"type":"record","name":"Line","fields":[{"name":"qty","type":"int","default":"one"}]}}}]}
            """);

        AvroDefaults.FindInvalidDefaults(schema).ShouldBe(["/fields/lines/items/fields/qty: default \"one\" is not a valid int"]);
    }
}
