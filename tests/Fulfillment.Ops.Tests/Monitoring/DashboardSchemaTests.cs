using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>
/// ops/grafana/dashboards against Grafana's own schema, offline: each dashboard is embedded as a typed literal and
/// type-checked with tsc against @grafana/schema (the version of the Grafana image docker-compose.yml runs), each panel's
/// options and custom field config against its panel plugin's types. Deliberately broken copies are checked in the same
/// run and must fail, so a checker that accepts anything cannot pass. npm packages are installed once into
/// .run/grafana-validate from the pinned lock file in ops/grafana/validate and reused.
/// </summary>
public sealed partial class DashboardSchemaTests
{
    // JSON has no enums: a string enum of the schema accepts its literal values, everything else is checked as declared.
    private const string JsonType = """
        export type Json<T> =
          T extends string ? `${T}` :
          T extends number | boolean | null | undefined ? T :
          T extends Array<infer U> ? Array<Json<U>> :
          T extends object ? { [K in keyof T]: Json<T[K]> } :
          T;
        """;

    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    private static string ValidateDir => Repo.Path("ops", "grafana", "validate");

    private static string CacheDir => Repo.Path(".run", "grafana-validate");

    [Fact]
    public void DashboardJson_IsWhatTheGeneratorWrites()
    {
        var r = Shell.Run(Node(), [Repo.Path("ops", "grafana", "build-dashboards.mjs"), "--check"]);

        r.ExitCode.ShouldBe(0, r.Output);
    }

    [Fact]
    public void Dashboards_ProvisionedDatasourceAndUniqueIds()
    {
        var provisioned = File.ReadAllText(Repo.Path("ops", "grafana", "provisioning", "datasources", "prometheus.yml"));
        var dashboards = MonitoringFiles.Dashboards();

        dashboards.Select(d => d.Name).ShouldBe(["allocation-inventory", "channels", "overview", "pipeline", "sinks"], ignoreOrder: true);
        dashboards.Select(d => (string?)d.Json["uid"]).ShouldBeUnique();
        foreach (var d in dashboards)
        {
            var ids = d.Panels.Select(p => (int?)p["id"]).ToList();
            ids.ShouldBeUnique($"{d.Name}: panel ids");
            foreach (var p in d.Panels.Where(p => (string?)p["type"] != "row"))
            {
                var uid = (string?)p["datasource"]?["uid"];
                uid.ShouldNotBeNull($"{d.Name} panel {(int?)p["id"]} has no datasource");
                provisioned.ShouldContain($"uid: {uid}", customMessage: $"{d.Name} panel {(int?)p["id"]}: datasource {uid} is not provisioned");
                (p["targets"]?.AsArray().Count ?? 0).ShouldBeGreaterThan(0, $"{d.Name} panel {(int?)p["id"]} has no query");
            }
        }
    }

    [Fact]
    public async Task Dashboards_TypeCheckAgainstGrafanaSchema_OnlyTheBrokenControlsFail()
    {
        await EnsurePackagesAsync();
        var check = Path.Combine(CacheDir, $"check-{Guid.NewGuid():N}");
        Directory.CreateDirectory(check);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(check, "json.ts"), JsonType);
            await File.WriteAllTextAsync(Path.Combine(check, "tsconfig.json"), File.ReadAllText(Path.Combine(ValidateDir, "tsconfig.json")));
            var dashboards = MonitoringFiles.Dashboards();
            foreach (var d in dashboards)
            {
                await File.WriteAllTextAsync(Path.Combine(check, $"{Module(d.Name)}.ts"), TypedModule(d.Json));
            }

            // Controls: a misspelt enum value deep in a panel and an unknown top-level property; tsc must reject each.
            var controls = new Dictionary<string, Action<JsonObject>>
            {
                ["control_enum"] = d => d["panels"]!.AsArray().OfType<JsonObject>().First(p => p["fieldConfig"] is not null)["fieldConfig"]!["defaults"]!["thresholds"]!["mode"] = "absolut",
                ["control_property"] = d => d["schemaVersoin"] = 39,
            };
            foreach (var (name, breakIt) in controls)
            {
                var broken = JsonNode.Parse(dashboards[0].Json.ToJsonString())!.AsObject();
                breakIt(broken);
                await File.WriteAllTextAsync(Path.Combine(check, $"{name}.ts"), TypedModule(broken));
            }

            var r = Shell.Run(Node(), [Path.Combine(CacheDir, "node_modules", "typescript", "bin", "tsc"), "-p", Path.Combine(check, "tsconfig.json")],
                timeout: TimeSpan.FromMinutes(3));

            var errors = TscError().Matches(r.Output).Select(m => (File: m.Groups[1].Value, Line: m.Value)).ToList();
            errors.Where(e => !controls.ContainsKey(e.File[..^3])).Select(e => e.Line).ShouldBeEmpty(r.Output);
            foreach (var control in controls.Keys)
            {
                errors.ShouldContain(e => e.File == $"{control}.ts", $"the broken control {control} passed the type check:\n{r.Output}");
            }

            r.ExitCode.ShouldNotBe(0);
        }
        finally
        {
            Directory.Delete(check, recursive: true);
        }
    }

    /// <summary>A TypeScript module: the dashboard as <c>Json&lt;Dashboard&gt;</c>, then each panel's options and custom field
    /// config as their plugin's <c>Options</c> / <c>FieldConfig</c>.</summary>
    private static string TypedModule(JsonObject dashboard)
    {
        var imports = new StringBuilder("import type { Dashboard } from '@grafana/schema';\nimport type { Json } from './json';\n");
        var body = new StringBuilder($"export const dashboard: Json<Dashboard> = {dashboard.ToJsonString()};\n");
        var plugins = new Dictionary<string, (string Alias, bool HasFieldConfig)>(StringComparer.Ordinal);
        foreach (var panel in new DashboardFile("", "", dashboard).Panels.Where(p => (string?)p["type"] is { } t && t != "row"))
        {
            var type = (string)panel["type"]!;
            if (!plugins.TryGetValue(type, out var plugin))
            {
                var (module, hasFieldConfig) = PluginTypes(type);
                plugin = ($"plugin_{plugins.Count}", hasFieldConfig);
                plugins[type] = plugin;
                imports.Append(CultureInfo.InvariantCulture, $"import type * as {plugin.Alias} from '{module}';\n");
            }

            var id = (int?)panel["id"] ?? 0;
            body.Append(CultureInfo.InvariantCulture, $"export const panel_{id}_options: Json<{plugin.Alias}.Options> = {panel["options"]?.ToJsonString() ?? "{}"};\n");
            if (plugin.HasFieldConfig && panel["fieldConfig"]?["defaults"]?["custom"] is { } custom)
            {
                body.Append(CultureInfo.InvariantCulture, $"export const panel_{id}_custom: Json<{plugin.Alias}.FieldConfig> = {custom.ToJsonString()};\n");
            }
        }

        return imports.Append(body).ToString();
    }

    /// <summary>The @grafana/schema module with a panel plugin's option types, and whether it declares a FieldConfig.</summary>
    private static (string Module, bool HasFieldConfig) PluginTypes(string panelType)
    {
        var dir = Path.Combine(CacheDir, "node_modules", "@grafana", "schema", "dist", "esm", "raw", "composable", panelType, "panelcfg", "x");
        var file = Directory.Exists(dir) ? Directory.GetFiles(dir, "*PanelCfg_types.gen.d.ts").SingleOrDefault() : null;
        file.ShouldNotBeNull($"@grafana/schema has no option types for panel type '{panelType}': use a core panel type");
        var module = $"@grafana/schema/dist/esm/raw/composable/{panelType}/panelcfg/x/{Path.GetFileName(file)[..^".d.ts".Length]}";
        return (module, File.ReadAllText(file).Contains("export interface FieldConfig", StringComparison.Ordinal));
    }

    private static string Module(string name) => "dashboard_" + NonIdentifier().Replace(name, "_");

    private static string Node() =>
        Shell.Which("node") ?? throw new InvalidOperationException("node not found: install Debian's nodejs and npm packages (apt-get install nodejs npm)");

    /// <summary>npm ci into .run/grafana-validate once per lock file; later runs reuse it.</summary>
    private static async Task EnsurePackagesAsync()
    {
        await InstallGate.WaitAsync();
        try
        {
            var lockText = File.ReadAllText(Path.Combine(ValidateDir, "package-lock.json"));
            var stamp = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(File.ReadAllText(Path.Combine(ValidateDir, "package.json")) + lockText)));
            var stampFile = Path.Combine(CacheDir, ".installed");
            if (File.Exists(stampFile) && File.ReadAllText(stampFile) == stamp
                && File.Exists(Path.Combine(CacheDir, "node_modules", "typescript", "bin", "tsc")))
            {
                return;
            }

            Directory.CreateDirectory(CacheDir);
            File.Delete(stampFile);
            File.Copy(Path.Combine(ValidateDir, "package.json"), Path.Combine(CacheDir, "package.json"), overwrite: true);
            File.Copy(Path.Combine(ValidateDir, "package-lock.json"), Path.Combine(CacheDir, "package-lock.json"), overwrite: true);
            var npm = Shell.Which("npm") ?? throw new InvalidOperationException("npm not found: install Debian's nodejs and npm packages (apt-get install nodejs npm)");
            var r = Shell.Run(npm, ["ci", "--prefix", CacheDir, "--no-audit", "--no-fund", "--loglevel=error"], timeout: TimeSpan.FromMinutes(5));
            r.ExitCode.ShouldBe(0, $"npm ci of ops/grafana/validate failed:\n{r.Output}");
            await File.WriteAllTextAsync(stampFile, stamp);
        }
        finally
        {
            InstallGate.Release();
        }
    }

    [GeneratedRegex(@"(?:^|[/\\])([^/\\\s(]+\.ts)\(\d+,\d+\): error TS\d+", RegexOptions.Multiline)]
    private static partial Regex TscError();

    [GeneratedRegex("[^A-Za-z0-9_]")]
    private static partial Regex NonIdentifier();
}
