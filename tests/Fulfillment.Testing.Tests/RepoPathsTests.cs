namespace Fulfillment.Testing.Tests;

public sealed class RepoPathsTests
{
    [Fact]
    public void Root_FromTestBinaries_IsTheDirectoryHoldingTheSolution()
    {
        File.Exists(Path.Combine(RepoPaths.Root, "Fulfillment.Streams.sln")).ShouldBeTrue();
        AppContext.BaseDirectory.ShouldStartWith(RepoPaths.Root);
    }

    [Fact]
    public void Get_RelativeParts_CombinesUnderRoot()
    {
        RepoPaths.Get("tests", "Fulfillment.Testing", "RepoPaths.cs").ShouldSatisfyAllConditions(
            path => path.ShouldStartWith(RepoPaths.Root),
            path => File.Exists(path).ShouldBeTrue());
    }
}
