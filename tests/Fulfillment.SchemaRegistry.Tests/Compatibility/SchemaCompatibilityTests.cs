using Avro;
using Fulfillment.Schemas.Compatibility;

namespace Fulfillment.SchemaRegistry.Tests.Compatibility;

public class SchemaCompatibilityTests
{
    private static Schema Rec(params string[] fields) =>
        Schema.Parse($$"""{"type":"record","name":"Order","fields":[{{string.Join(",", fields)}}]}""");

    private const string Id = """{"name":"id","type":"string"}""";
    private const string QtyRequired = """{"name":"qty","type":"int"}""";
    private const string QtyDefaulted = """{"name":"qty","type":"int","default":0}""";
    private const string NoteRequired = """{"name":"note","type":"string"}""";

    [Theory]
    [InlineData(CompatibilityLevel.None, true)]
    [InlineData(CompatibilityLevel.Backward, false)]
    [InlineData(CompatibilityLevel.BackwardTransitive, false)]
    [InlineData(CompatibilityLevel.Forward, true)]
    [InlineData(CompatibilityLevel.ForwardTransitive, true)]
    [InlineData(CompatibilityLevel.Full, false)]
    [InlineData(CompatibilityLevel.FullTransitive, false)]
    public void IsCompatible_AddingRequiredField_OnlyForwardOrNoneAllow(CompatibilityLevel level, bool expected) =>
        SchemaCompatibility.IsCompatible(level, Rec(Id, QtyRequired), [Rec(Id)]).ShouldBe(expected);

    [Theory]
    [InlineData(CompatibilityLevel.Backward, true)]
    [InlineData(CompatibilityLevel.Forward, false)]
    [InlineData(CompatibilityLevel.Full, false)]
    public void IsCompatible_RemovingRequiredField_OnlyBackwardAllows(CompatibilityLevel level, bool expected) =>
        SchemaCompatibility.IsCompatible(level, Rec(Id), [Rec(Id, QtyRequired)]).ShouldBe(expected);

    [Theory]
    [InlineData(CompatibilityLevel.Backward)]
    [InlineData(CompatibilityLevel.Forward)]
    [InlineData(CompatibilityLevel.Full)]
    [InlineData(CompatibilityLevel.FullTransitive)]
    public void IsCompatible_AddingDefaultedField_AllLevelsAllow(CompatibilityLevel level) =>
        SchemaCompatibility.IsCompatible(level, Rec(Id, QtyDefaulted), [Rec(Id)]).ShouldBeTrue();

    [Fact]
    public void IsCompatible_BackwardOnlyChecksLatest_TransitiveChecksAll()
    {
        // v1 {id}, v2 {id, qty with default}, candidate {id, qty required}: reads v2 data (qty present) but not v1 data.
        Schema[] history = [Rec(Id), Rec(Id, QtyDefaulted)];
        var candidate = Rec(Id, QtyRequired);

        SchemaCompatibility.IsCompatible(CompatibilityLevel.Backward, candidate, history).ShouldBeTrue();
        var problems = SchemaCompatibility.FindIncompatibilities(CompatibilityLevel.BackwardTransitive, candidate, history);
        problems.ShouldHaveSingleItem().ShouldContain("/fields/qty: reader field without default missing in writer");
        problems[0].ShouldContain("version index 0");
    }

    [Fact]
    public void IsCompatible_ForwardTransitive_OldReaderMustReadNewData()
    {
        // v2 gave note a default, so v2 readers accept data without it; v1 readers still require it.
        Schema[] history = [Rec(Id, NoteRequired), Rec(Id, """{"name":"note","type":"string","default":""}""")];
        var candidate = Rec(Id);

        SchemaCompatibility.IsCompatible(CompatibilityLevel.Forward, candidate, history).ShouldBeTrue();
        SchemaCompatibility.IsCompatible(CompatibilityLevel.ForwardTransitive, candidate, history).ShouldBeFalse();
    }

    [Fact]
    public void IsCompatible_NoPreviousVersions_AlwaysCompatible() =>
        SchemaCompatibility.IsCompatible(CompatibilityLevel.FullTransitive, Rec(Id), []).ShouldBeTrue();

    [Theory]
    [InlineData("BACKWARD", CompatibilityLevel.Backward)]
    [InlineData("backward_transitive", CompatibilityLevel.BackwardTransitive)]
    [InlineData("FULL_TRANSITIVE", CompatibilityLevel.FullTransitive)]
    [InlineData("None", CompatibilityLevel.None)]
    public void TryParse_ConfluentName_RoundTrips(string name, CompatibilityLevel expected)
    {
        SchemaCompatibility.TryParse(name, out var level).ShouldBeTrue();
        level.ShouldBe(expected);
        level!.Value.ToConfluentName().ShouldBe(name.ToUpperInvariant());
    }

    [Theory]
    [InlineData("SIDEWAYS")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_UnknownName_Fails(string? name) => SchemaCompatibility.TryParse(name, out _).ShouldBeFalse();
}
