using System.Globalization;
using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Ops.Tests.Compose;

/// <summary>docker-compose.yml cannot run here (no Docker engine): these checks keep it consistent with the hub.</summary>
public sealed partial class DockerComposeTests
{
    private static readonly string[] Brokers = ["kafka-1", "kafka-2", "kafka-3"];
    private readonly ComposeFile _compose = ComposeFile.Load();

    [GeneratedRegex(@"^[a-z0-9./_-]+:(?<tag>[A-Za-z0-9._-]+)$")]
    private static partial Regex ImageWithTag();

    [Fact]
    public void Compose_DefinesTheProductionStack()
    {
        string[] expected = [.. Brokers, "topic-init", "schema-registry", "postgres", "prometheus", "grafana"];
        foreach (var name in expected)
        {
            _compose.Services.ContainsKey(name).ShouldBeTrue($"service {name} missing");
        }

        _compose.Service("kafka-1")["image"].ShouldBe(_compose.Service("topic-init")["image"]);
        ComposeFile.Str(_compose.Service("kafka-1")["image"]).ShouldStartWith("apache/kafka:");
        ComposeFile.Str(_compose.Service("schema-registry")["image"]).ShouldStartWith("confluentinc/cp-schema-registry:");
        ComposeFile.Str(_compose.Service("postgres")["image"]).ShouldStartWith("postgres:15");
        ComposeFile.Str(_compose.Service("prometheus")["image"]).ShouldStartWith("prom/prometheus:");
        ComposeFile.Str(_compose.Service("grafana")["image"]).ShouldStartWith("grafana/grafana:");
    }

    [Fact]
    public void Compose_EveryImage_HasAPinnedVersionTag()
    {
        foreach (var (name, svc) in _compose.Services.Select(kv => (ComposeFile.Str(kv.Key), ComposeFile.Map(kv.Value))))
        {
            if (!svc.TryGetValue("image", out var image))
            {
                svc.ContainsKey("build").ShouldBeTrue($"{name} has neither image nor build");
                continue;
            }

            var m = ImageWithTag().Match(ComposeFile.Str(image));
            m.Success.ShouldBeTrue($"{name}: image '{image}' has no tag");
            m.Groups["tag"].Value.ShouldNotBe("latest", $"{name}: 'latest' is not pinned");
            m.Groups["tag"].Value.ShouldMatch(@"\d+\.\d+", $"{name}: tag must name a version");
        }
    }

    [Fact]
    public void Kafka_ThreeBrokers_FormOneKRaftQuorum()
    {
        var envs = Brokers.Select(b => ComposeFile.Environment(_compose.Service(b))).ToList();
        var nodeIds = envs.Select(e => int.Parse(e["KAFKA_NODE_ID"], CultureInfo.InvariantCulture)).ToList();
        nodeIds.ShouldBeUnique();

        var voters = envs[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"].Split(',');
        voters.Length.ShouldBe(3);
        for (var i = 0; i < Brokers.Length; i++)
        {
            var env = envs[i];
            env["KAFKA_PROCESS_ROLES"].Split(',').ShouldBe(["broker", "controller"], ignoreOrder: true);
            env["KAFKA_CONTROLLER_QUORUM_VOTERS"].ShouldBe(envs[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"]);
            env["CLUSTER_ID"].ShouldBe(envs[0]["CLUSTER_ID"]);
            voters.ShouldContain($"{nodeIds[i]}@{Brokers[i]}:9093");

            var protocols = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].Split(',').Select(p => p.Split(':')[0]).ToList();
            var listeners = Listeners(env["KAFKA_LISTENERS"]);
            listeners.Keys.ShouldBeSubsetOf(protocols);
            listeners.Keys.ShouldContain(env["KAFKA_CONTROLLER_LISTENER_NAMES"]);
            listeners.Keys.ShouldContain(env["KAFKA_INTER_BROKER_LISTENER_NAME"]);

            // The external listener is what host clients get back in metadata: published on the same port, advertised as localhost.
            var advertised = Listeners(env["KAFKA_ADVERTISED_LISTENERS"]);
            advertised["EXTERNAL"].ShouldBe($"localhost:{19092 + i}");
            advertised["INTERNAL"].ShouldBe($"{Brokers[i]}:29092");
            ComposeFile.Ports(_compose.Service(Brokers[i])).ShouldContain((19092 + i, int.Parse(listeners["EXTERNAL"].Split(':')[^1], CultureInfo.InvariantCulture)));
            int.Parse(env["KAFKA_DEFAULT_REPLICATION_FACTOR"], CultureInfo.InvariantCulture).ShouldBeLessThanOrEqualTo(Brokers.Length);
            _compose.Service(Brokers[i]).ContainsKey("healthcheck").ShouldBeTrue();
        }
    }

    [Fact]
    public void SchemaRegistry_UsesTheComposeKafkaWithBackwardCompatibility()
    {
        var svc = _compose.Service("schema-registry");
        var env = ComposeFile.Environment(svc);

        env["SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL"].ShouldBe("BACKWARD");
        env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"].Split(',')
            .Select(s => s.Replace("PLAINTEXT://", string.Empty, StringComparison.Ordinal))
            .ShouldBe(Brokers.Select(b => $"{b}:29092"));
        ComposeFile.Ports(svc).ShouldContain((18081, 8081));
        svc.ContainsKey("healthcheck").ShouldBeTrue();
    }

    [Fact]
    public void HubEnvironment_PointsAtTheComposeServices()
    {
        var env = ComposeFile.Map(_compose.Root["x-hub-env"]).ToDictionary(kv => ComposeFile.Str(kv.Key), kv => ComposeFile.Str(kv.Value));
        AssertHubEnvironment(env, "x-hub-env");
    }

    [Fact]
    public void HubWorkers_MatchTheEmbeddedStackAndBuildFromExistingProjects()
    {
        var embeddedWorkers = ServiceTable.Load().Where(s => s.IsWorker).ToDictionary(s => s.Name, s => s.Port);
        var built = _compose.Services
            .Select(kv => (Name: ComposeFile.Str(kv.Key), Svc: ComposeFile.Map(kv.Value)))
            .Where(s => s.Svc.ContainsKey("build"))
            .ToList();

        built.Select(b => b.Name).ShouldBe(embeddedWorkers.Keys, ignoreOrder: true);
        foreach (var (name, svc) in built)
        {
            var build = ComposeFile.Map(svc["build"]);
            ComposeFile.Str(build["context"]).ShouldBe(".");
            File.Exists(Repo.Path(ComposeFile.Str(build["dockerfile"]))).ShouldBeTrue($"{name}: Dockerfile missing");
            var project = ComposeFile.Str(ComposeFile.Map(build["args"])["PROJECT"]);
            File.Exists(Repo.Path(project, Path.GetFileName(project) + ".csproj")).ShouldBeTrue($"{name}: project {project} missing");

            var env = ComposeFile.Environment(svc);
            AssertHubEnvironment(env, name);
            env["ASPNETCORE_URLS"].ShouldBe($"http://0.0.0.0:{embeddedWorkers[name]}");
            ComposeFile.Ports(svc).ShouldContain((embeddedWorkers[name], embeddedWorkers[name]));
            svc.ContainsKey("healthcheck").ShouldBeTrue($"{name} needs a healthcheck");
        }
    }

    [Fact]
    public void WorkerDockerfile_IsMultiStageSdkToAspNetRuntime()
    {
        var dockerfile = File.ReadAllText(Repo.Path("ops", "docker", "worker.Dockerfile"));
        var froms = dockerfile.Split('\n').Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();

        froms.Count.ShouldBe(2);
        froms[0].ShouldContain("mcr.microsoft.com/dotnet/sdk:");
        froms[1].ShouldContain("mcr.microsoft.com/dotnet/aspnet:");
        dockerfile.ShouldContain("ARG DOTNET_VERSION=10.0");
        dockerfile.ShouldContain("ARG PROJECT");
        // Every top-level folder the Dockerfile copies must exist, or `docker build` fails at COPY.
        foreach (var copy in dockerfile.Split('\n').Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            foreach (var source in copy.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).SkipLast(1))
            {
                Path.Exists(Repo.Path(source.TrimEnd('/'))).ShouldBeTrue($"COPY source {source} missing");
            }
        }
    }

    [Fact]
    public void DependsOn_HealthyConditions_PointAtServicesWithHealthchecks()
    {
        foreach (var (name, svc) in _compose.Services.Select(kv => (ComposeFile.Str(kv.Key), ComposeFile.Map(kv.Value))))
        {
            if (!svc.TryGetValue("depends_on", out var deps))
            {
                continue;
            }

            foreach (var (dep, cond) in ComposeFile.Map(deps).Select(kv => (ComposeFile.Str(kv.Key), ComposeFile.Map(kv.Value))))
            {
                _compose.Services.ContainsKey(dep).ShouldBeTrue($"{name} depends on unknown {dep}");
                var condition = ComposeFile.Str(cond["condition"]);
                condition.ShouldBeOneOf("service_healthy", "service_completed_successfully", "service_started");
                if (condition == "service_healthy")
                {
                    _compose.Service(dep).ContainsKey("healthcheck").ShouldBeTrue($"{name} waits for {dep} to be healthy, but it has no healthcheck");
                }
            }
        }

        var topicInit = ComposeFile.Map(_compose.Service("topic-init")["depends_on"]);
        topicInit.Keys.Select(ComposeFile.Str).ShouldBe(Brokers, ignoreOrder: true);
    }

    [Fact]
    public void HostPorts_AreUniqueAndMatchTheEmbeddedStack()
    {
        var ports = _compose.Services.SelectMany(kv => ComposeFile.Ports(ComposeFile.Map(kv.Value)).Select(p => p.Host)).ToList();
        ports.ShouldBeUnique();
        ports.ShouldContain(55432);
        ports.ShouldContain(19090);
        ports.ShouldContain(3000);
    }

    [Fact]
    public void Prometheus_MountsOurConfigAndRules()
    {
        var svc = _compose.Service("prometheus");
        var mount = ComposeFile.BindMounts(svc).Single(m => m.Host == "ops/prometheus");
        var configArg = ComposeFile.List(svc["command"]).Select(ComposeFile.Str).Single(a => a.StartsWith("--config.file=", StringComparison.Ordinal));
        var configInContainer = configArg["--config.file=".Length..];

        configInContainer.ShouldStartWith(mount.Container + "/");
        File.Exists(Repo.Path("ops", "prometheus", configInContainer[(mount.Container.Length + 1)..])).ShouldBeTrue();
    }

    [Fact]
    public void Grafana_ProvisioningFilesExistParseAndPointAtComposePrometheus()
    {
        var svc = _compose.Service("grafana");
        var mounts = ComposeFile.BindMounts(svc).ToDictionary(m => m.Host, m => m.Container);
        mounts["ops/grafana/provisioning"].ShouldBe("/etc/grafana/provisioning");
        Directory.Exists(Repo.Path("ops", "grafana", "dashboards")).ShouldBeTrue();

        var datasources = ComposeFile.LoadYaml(Repo.Path("ops", "grafana", "provisioning", "datasources", "prometheus.yml"));
        ComposeFile.Str(datasources["apiVersion"]).ShouldBe("1");
        var ds = ComposeFile.Map(ComposeFile.List(datasources["datasources"]).Single());
        ComposeFile.Str(ds["type"]).ShouldBe("prometheus");
        var promPort = ComposeFile.Ports(_compose.Service("prometheus")).Single().Container;
        ComposeFile.Str(ds["url"]).ShouldBe($"http://prometheus:{promPort}");

        var dashboards = ComposeFile.LoadYaml(Repo.Path("ops", "grafana", "provisioning", "dashboards", "fulfillment.yml"));
        ComposeFile.Str(dashboards["apiVersion"]).ShouldBe("1");
        var provider = ComposeFile.Map(ComposeFile.List(dashboards["providers"]).Single());
        ComposeFile.Str(ComposeFile.Map(provider["options"])["path"]).ShouldBe(mounts["ops/grafana/dashboards"]);

        foreach (var json in Directory.EnumerateFiles(Repo.Path("ops", "grafana", "dashboards"), "*.json"))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            doc.RootElement.TryGetProperty("title", out _).ShouldBeTrue($"{json} has no title");
        }
    }

    [Fact]
    public void TopicInit_CreatesExactlyTheCatalogTopics()
    {
        var expected = TopicCatalog.All.Select(t => $"{t.Name} {t.Partitions} {t.Retention.ToString().ToLowerInvariant()}").ToList();
        var actual = File.ReadAllLines(Repo.Path("ops", "docker", "topics.txt")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        expected.ShouldNotBeEmpty();
        actual.ShouldBe(expected, $"ops/docker/topics.txt is out of date with TopicCatalog; its topic lines must be:\n{string.Join('\n', expected)}\n");

        var mounts = ComposeFile.BindMounts(_compose.Service("topic-init")).ToDictionary(m => m.Host, m => m.Container);
        mounts.ShouldContainKey("ops/docker/create-topics.sh");
        mounts.ShouldContainKey("ops/docker/topics.txt");
        Path.GetDirectoryName(mounts["ops/docker/topics.txt"]).ShouldBe(Path.GetDirectoryName(mounts["ops/docker/create-topics.sh"]));
    }

    private void AssertHubEnvironment(Dictionary<string, string> env, string where)
    {
        var bootstrap = env["Kafka__BootstrapServers"].Split(',');
        bootstrap.Select(b => b.Split(':')[0]).ShouldBe(Brokers, ignoreOrder: true, $"{where}: bootstrap servers");
        foreach (var b in bootstrap)
        {
            var (host, port) = (b.Split(':')[0], b.Split(':')[1]);
            var internalListener = Listeners(ComposeFile.Environment(_compose.Service(host))["KAFKA_ADVERTISED_LISTENERS"])["INTERNAL"];
            internalListener.ShouldBe($"{host}:{port}", $"{where}: {b} is not {host}'s internal listener");
        }

        env["Kafka__SchemaRegistryUrl"].ShouldBe("http://schema-registry:8081", where);

        var cs = env["Postgres__ConnectionString"].Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        var pg = ComposeFile.Environment(_compose.Service("postgres"));
        cs["Host"].ShouldBe("postgres", where);
        cs["Port"].ShouldBe("5432", where);
        cs["Username"].ShouldBe(pg["POSTGRES_USER"], where);
        cs["Password"].ShouldBe(pg["POSTGRES_PASSWORD"], where);
        cs["Database"].ShouldBe(pg["POSTGRES_DB"], where);
    }

    private static Dictionary<string, string> Listeners(string spec) =>
        spec.Split(',').Select(l => l.Split("://", 2)).ToDictionary(p => p[0], p => p[1]);
}
