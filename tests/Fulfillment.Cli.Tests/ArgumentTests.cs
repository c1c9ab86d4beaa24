using Fulfillment.Testing;

namespace Fulfillment.Cli.Tests;

/// <summary>Bad or missing arguments: exit code 2 and a message saying what is wrong, before anything is touched.</summary>
public sealed class ArgumentTests
{
    [Theory]
    [InlineData(new string[0], "no command given")]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "audit" }, "audit needs: audit order <order-id>")]
    [InlineData(new[] { "audit", "order" }, "audit needs: audit order <order-id>")]
    [InlineData(new[] { "audit", "shipment", "s-1" }, "audit needs: audit order <order-id>")]
    [InlineData(new[] { "audit", "order", "--json" }, "audit needs: audit order <order-id>")]
    [InlineData(new[] { "audit", "order", "o-1", "--jsn" }, "unknown option --jsn for audit")]
    [InlineData(new[] { "audit", "order", "o-1", "--schema" }, "option --schema needs a value")]
    [InlineData(new[] { "replay" }, "replay needs --verify")]
    [InlineData(new[] { "replay", "--verify", "--fast" }, "unknown option --fast for replay")]
    [InlineData(new[] { "bench" }, "bench needs a name: bench freshness")]
    [InlineData(new[] { "bench", "freshness", "--rate", "lots" }, "--rate must be a positive whole number, not 'lots'")]
    [InlineData(new[] { "bench", "freshness", "--seconds", "0" }, "--seconds must be a positive whole number, not '0'")]
    [InlineData(new[] { "bench", "freshness", "--rate", "-5" }, "--rate must be a positive whole number, not '-5'")]
    public async Task Cli_BadArguments_Exit2WithReasonAndUsage(string[] args, string reason)
    {
        var result = await CliRun.RunAsync(args);

        result.ExitCode.ShouldBe(2);
        result.Error.ShouldContain(reason);
        result.Error.ShouldContain("usage: Fulfillment.Cli");
        result.Output.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("help")]
    [InlineData("--help")]
    public async Task Cli_Help_Exit0WithUsageOnStdout(string arg)
    {
        var result = await CliRun.RunAsync(arg);

        result.ExitCode.ShouldBe(0);
        result.Output.ShouldContain("audit order <order-id>");
        result.Output.ShouldContain("replay --verify");
        result.Output.ShouldContain("reseed");
    }

    [Theory]
    [InlineData("Postgres__ConnectionString", "audit", "order", "o-1")]
    [InlineData("Postgres__ConnectionString", "reseed")]
    [InlineData("Postgres__ConnectionString", "replay", "--verify")]
    public async Task Cli_ConnectionSettingMissing_Exit2NamingTheVariable(string variable, params string[] args)
    {
        var result = await CliRun.RunAsync(args);

        result.ExitCode.ShouldBe(2);
        result.Error.ShouldContain($"Environment variable {variable} is not set");
    }

    [Fact]
    public async Task Cli_SchemaNameNotAnIdentifier_Exit2BeforeAnySql()
    {
        var result = await CliRun.RunAsync(
            new Dictionary<string, string?> { ["Postgres__ConnectionString"] = "Host=127.0.0.1;Port=1;Database=none" },
            "audit", "order", "o-1", "--schema", "views;drop");

        result.ExitCode.ShouldBe(2);
        result.Error.ShouldContain("is not a valid schema name");
    }

    [Fact]
    public async Task CliProcess_NoArguments_Exit2AndUsageOnStderr()
    {
        using var process = ProcessRunner.Start(Path.Combine(AppContext.BaseDirectory, "Fulfillment.Cli"), []);

        (await process.WaitForExitAsync(TimeSpan.FromSeconds(60))).ShouldBe(2);
        process.Output.ShouldContain("usage: Fulfillment.Cli");
    }
}
