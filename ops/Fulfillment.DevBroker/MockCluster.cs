using System.Net;
using System.Runtime.InteropServices;

namespace Fulfillment.DevBroker;

/// <summary>A topic to pre-create on the mock cluster.</summary>
/// <param name="Name">Topic name.</param>
/// <param name="Partitions">Partition count (≥ 1).</param>
public sealed record MockTopic(string Name, int Partitions);

/// <summary>How to start a <see cref="MockCluster"/>.</summary>
public sealed class MockClusterOptions
{
    /// <summary>Number of brokers (ids 1..N). Default 1.</summary>
    public int BrokerCount { get; init; } = 1;

    /// <summary>Topics created before <see cref="MockCluster.Start"/> returns.</summary>
    public IReadOnlyList<MockTopic> Topics { get; init; } = [];

    /// <summary>
    /// Null (default): clients use the brokers' kernel-chosen listener ports directly, nothing extra runs.
    /// Set: broker i (0-based) is reachable on 127.0.0.1:(base+i) through a TCP forwarder and advertises that port,
    /// so clients reconnect through it too.
    /// </summary>
    public int? FixedBasePort { get; init; }

    /// <summary>KIP-848 groups only (<c>group.protocol=consumer</c>): broker-side session timeout. Null keeps librdkafka's default.
    /// Classic groups use each client's <c>session.timeout.ms</c>.</summary>
    public int? GroupConsumerSessionTimeoutMs { get; init; }

    /// <summary>KIP-848 groups only: broker-side heartbeat interval. Null keeps librdkafka's default.</summary>
    public int? GroupConsumerHeartbeatIntervalMs { get; init; }

    /// <summary>librdkafka <c>debug</c> contexts for the hosting handle (e.g. "mock"), for troubleshooting only.</summary>
    public string? Debug { get; init; }
}

/// <summary>
/// librdkafka's in-process mock Kafka cluster (facts/kafka-dev-broker.md): real wire protocol, in memory, no persistence.
/// Differences from Kafka that matter: read_committed is not enforced, transactional offsets are dropped, each partition
/// keeps at most 5 MiB / 100,000 batches and silently drops the oldest beyond that, no compaction, AdminClient cannot
/// create/delete topics (use <see cref="CreateTopic"/>). Never call ListConsumerGroups, DescribeConsumerGroups or
/// DeleteGroups against it: they crash the client process.
/// </summary>
public sealed unsafe class MockCluster : IDisposable
{
    private const int RdKafkaProducer = 0;

    private readonly Lock _gate = new();
    private readonly TcpForwarder[] _forwarders;
    private IntPtr _rk;
    private IntPtr _mc;

    private MockCluster(IntPtr rk, IntPtr mc, string listenerBootstraps, TcpForwarder[] forwarders, int brokerCount)
    {
        _rk = rk;
        _mc = mc;
        _forwarders = forwarders;
        ListenerBootstrapServers = listenerBootstraps;
        BrokerCount = brokerCount;
        BootstrapServers = forwarders.Length == 0
            ? listenerBootstraps
            : string.Join(',', forwarders.Select(f => $"127.0.0.1:{f.Port}"));
    }

    /// <summary>What clients should use as <c>bootstrap.servers</c> (the fixed ports when a base port was given).</summary>
    public string BootstrapServers { get; }

    /// <summary>The brokers' own kernel-chosen listeners (bypassing any forwarder).</summary>
    public string ListenerBootstrapServers { get; }

    /// <summary>Number of brokers.</summary>
    public int BrokerCount { get; }

    /// <summary>Path of the native librdkafka this process uses (shared with Confluent.Kafka).</summary>
    public static string? NativeLibraryPath => NativeMethods.LoadedPath;

    /// <summary>Starts a cluster; returns once every listener (and forwarder) accepts connections and every topic exists.</summary>
    public static MockCluster Start(MockClusterOptions? options = null)
    {
        options ??= new MockClusterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BrokerCount, 1, nameof(options));
        NativeMethods.EnsureLoaded();

        var rk = NewHostHandle(options.Debug);
        var mc = NativeMethods.rd_kafka_mock_cluster_new(rk, options.BrokerCount);
        if (mc == IntPtr.Zero)
        {
            NativeMethods.rd_kafka_destroy(rk);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        var forwarders = new List<TcpForwarder>();
        try
        {
            // Without a controller, admin Describe* calls wait 60 s for one.
            _ = NativeMethods.rd_kafka_mock_set_controller_id(mc, 1);
            // Kafka's 3 s default delays every first classic-group join; tests and the dev stack want it immediate.
            NativeMethods.rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
            if (options.GroupConsumerSessionTimeoutMs is { } session)
            {
                NativeMethods.rd_kafka_mock_set_group_consumer_session_timeout_ms(mc, session);
            }

            if (options.GroupConsumerHeartbeatIntervalMs is { } heartbeat)
            {
                NativeMethods.rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(mc, heartbeat);
            }

            foreach (var topic in options.Topics)
            {
                CreateTopic(mc, topic.Name, topic.Partitions);
            }

            var listeners = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_mock_cluster_bootstraps(mc))
                ?? throw new InvalidOperationException("rd_kafka_mock_cluster_bootstraps returned null.");
            if (options.FixedBasePort is { } basePort)
            {
                var endpoints = ParseEndpoints(listeners);
                if (endpoints.Count != options.BrokerCount)
                {
                    throw new InvalidOperationException($"Expected {options.BrokerCount} listeners, got '{listeners}'.");
                }

                for (var i = 0; i < endpoints.Count; i++)
                {
                    forwarders.Add(new TcpForwarder(basePort + i, endpoints[i]));
                    // Broker ids are 1..N in listener order; advertise the fixed port so reconnects go through it.
                    NativeMethods.rd_kafka_mock_broker_set_host_port(mc, i + 1, "127.0.0.1", basePort + i);
                }
            }

            return new MockCluster(rk, mc, listeners, [.. forwarders], options.BrokerCount);
        }
        catch
        {
            foreach (var forwarder in forwarders)
            {
                forwarder.Dispose();
            }

            NativeMethods.rd_kafka_mock_cluster_destroy(mc);
            NativeMethods.rd_kafka_destroy(rk);
            throw;
        }
    }

    /// <summary>Creates a topic (AdminClient CreateTopics is not supported by the mock broker). Tests: use a unique name each.</summary>
    public void CreateTopic(string name, int partitions)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_mc == IntPtr.Zero, this);
            CreateTopic(_mc, name, partitions);
        }
    }

    /// <summary>Stops forwarders, destroys the cluster and then its host handle. Safe to call more than once.</summary>
    public void Dispose()
    {
        IntPtr mc, rk;
        lock (_gate)
        {
            (mc, rk) = (_mc, _rk);
            (_mc, _rk) = (IntPtr.Zero, IntPtr.Zero);
        }

        if (mc == IntPtr.Zero)
        {
            return;
        }

        foreach (var forwarder in _forwarders)
        {
            forwarder.Dispose();
        }

        NativeMethods.rd_kafka_mock_cluster_destroy(mc);
        NativeMethods.rd_kafka_destroy(rk);
    }

    private static void CreateTopic(IntPtr mc, string name, int partitions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var err = NativeMethods.rd_kafka_mock_topic_create(mc, name, partitions, 1);
        if (err != 0)
        {
            throw new InvalidOperationException($"Creating topic '{name}' ({partitions} partitions) failed: {NativeMethods.ErrorText(err)}.");
        }
    }

    private static IntPtr NewHostHandle(string? debug)
    {
        const int errSize = 512;
        var err = stackalloc byte[errSize];
        var conf = NativeMethods.rd_kafka_conf_new();
        // The hosting handle never connects anywhere; its notice "No bootstrap.servers configured" is noise.
        (string Name, string Value)[] settings = debug is null ? [("log_level", "4")] : [("debug", debug)];
        foreach (var (name, value) in settings)
        {
            if (NativeMethods.rd_kafka_conf_set(conf, name, value, err, errSize) != 0)
            {
                NativeMethods.rd_kafka_conf_destroy(conf);
                throw new ArgumentException($"{name}={value}: {Marshal.PtrToStringUTF8((IntPtr)err)}");
            }
        }

        var rk = NativeMethods.rd_kafka_new(RdKafkaProducer, conf, err, errSize);
        if (rk == IntPtr.Zero)
        {
            NativeMethods.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Marshal.PtrToStringUTF8((IntPtr)err)}");
        }

        return rk;
    }

    private static List<IPEndPoint> ParseEndpoints(string bootstraps) =>
        [.. bootstraps.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(IPEndPoint.Parse)];
}
