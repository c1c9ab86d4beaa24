using Fulfillment.Ops.Tests.Compose;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Prometheus;

/// <summary>ops/prometheus: valid for promtool (installed by `ops/fulfillment test`) and scraping exactly what the stacks run.</summary>
public sealed class PrometheusConfigTests
{
    private static string Promtool() =>
        Shell.Which("promtool") ?? throw new InvalidOperationException(
            "promtool not found: `ops/fulfillment test` installs Debian's prometheus package (or: apt-get install prometheus)");

    [Theory]
    [InlineData("prometheus.yml")]
    [InlineData("prometheus.compose.yml")]
    public void Config_PassesPromtoolCheck(string file)
    {
        var r = Shell.Run(Promtool(), ["check", "config", Repo.Path("ops", "prometheus", file)]);

        r.ExitCode.ShouldBe(0, r.Output);
        r.Output.ShouldContain("SUCCESS");
    }

    [Fact]
    public void Rules_PassPromtoolCheck()
    {
        var files = Directory.GetFiles(Repo.Path("ops", "prometheus", "rules"), "*.yml");
        files.ShouldNotBeEmpty();

        var r = Shell.Run(Promtool(), ["check", "rules", .. files]);

        r.ExitCode.ShouldBe(0, r.Output);
    }

    [Fact]
    public void EmbeddedConfig_ScrapesEveryHttpServiceOfUpByName()
    {
        var expected = ServiceTable.Load().Where(s => s.IsScraped)
            .ToDictionary(s => s.Name, s => $"127.0.0.1:{s.Port}");

        Jobs("prometheus.yml").ShouldBe(expected, ignoreOrder: true);
    }

    [Fact]
    public void ComposeConfig_ScrapesPrometheusAndEveryComposeWorker()
    {
        var compose = ComposeFile.Load();
        var expected = ServiceTable.Load().Where(s => s.IsWorker).ToDictionary(s => s.Name, s => $"{s.Name}:{s.Port}");
        expected["prometheus"] = "localhost:9090";

        Jobs("prometheus.compose.yml").ShouldBe(expected, ignoreOrder: true);
        foreach (var worker in expected.Keys.Where(k => k != "prometheus"))
        {
            compose.Services.ContainsKey(worker).ShouldBeTrue($"{worker} is scraped but not in docker-compose.yml");
        }
    }

    private static Dictionary<string, string> Jobs(string file)
    {
        var config = ComposeFile.LoadYaml(Repo.Path("ops", "prometheus", file));
        return ComposeFile.List(config["scrape_configs"]).Select(ComposeFile.Map).ToDictionary(
            j => ComposeFile.Str(j["job_name"]),
            j => ComposeFile.List(ComposeFile.Map(ComposeFile.List(j["static_configs"]).Single())["targets"]).Select(ComposeFile.Str).Single());
    }
}
