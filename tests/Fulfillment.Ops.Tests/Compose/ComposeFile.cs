using System.Globalization;
using Fulfillment.Ops.Tests.Support;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Fulfillment.Ops.Tests.Compose;

/// <summary>docker-compose.yml as plain maps, with YAML anchors and merge keys resolved as Docker Compose does.</summary>
internal sealed class ComposeFile
{
    private ComposeFile(Dictionary<object, object> root) => Root = root;

    public Dictionary<object, object> Root { get; }

    public Dictionary<object, object> Services => Map(Root["services"]);

    public static ComposeFile Load() => new(LoadYaml(Repo.Path("docker-compose.yml")));

    public static Dictionary<object, object> LoadYaml(string path)
    {
        using var reader = new StreamReader(path);
        var parsed = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(reader)));
        return parsed ?? throw new InvalidOperationException($"{path} is empty");
    }

    public Dictionary<object, object> Service(string name) => Map(Services[name]);

    public static Dictionary<object, object> Map(object? node) =>
        node as Dictionary<object, object> ?? throw new InvalidOperationException($"expected a mapping, got {node}");

    public static List<object> List(object? node) =>
        node as List<object> ?? throw new InvalidOperationException($"expected a sequence, got {node}");

    public static string Str(object? node) => Convert.ToString(node, CultureInfo.InvariantCulture) ?? string.Empty;

    /// <summary>A service's environment as name → value (compose allows a map or a KEY=VALUE list).</summary>
    public static Dictionary<string, string> Environment(Dictionary<object, object> service)
    {
        if (!service.TryGetValue("environment", out var env) || env is null)
        {
            return [];
        }

        return env switch
        {
            Dictionary<object, object> m => m.ToDictionary(kv => Str(kv.Key), kv => Str(kv.Value)),
            List<object> l => l.Select(Str).Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : string.Empty),
            _ => throw new InvalidOperationException("environment must be a map or a list"),
        };
    }

    /// <summary>Published ports as (host, container).</summary>
    public static IEnumerable<(int Host, int Container)> Ports(Dictionary<object, object> service)
    {
        if (!service.TryGetValue("ports", out var ports))
        {
            yield break;
        }

        foreach (var p in List(ports).Select(Str))
        {
            var parts = p.Split(':');
            yield return (int.Parse(parts[^2], CultureInfo.InvariantCulture), int.Parse(parts[^1].Split('/')[0], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Volume mounts of the host-path kind as (host path relative to the repo, container path).</summary>
    public static IEnumerable<(string Host, string Container)> BindMounts(Dictionary<object, object> service)
    {
        if (!service.TryGetValue("volumes", out var volumes))
        {
            yield break;
        }

        foreach (var v in List(volumes).Select(Str).Where(v => v.StartsWith("./", StringComparison.Ordinal)))
        {
            var parts = v.Split(':');
            yield return (parts[0][2..], parts[1]);
        }
    }
}
