using Confluent.Kafka;
using Fulfillment.DevBroker;

namespace Fulfillment.Testing;

/// <summary>
/// xunit fixture hosting an in-process development broker (librdkafka mock cluster) on kernel-chosen ports.
/// Use as <c>IClassFixture&lt;DevBrokerFixture&gt;</c>, or share it per assembly with a
/// <c>[CollectionDefinition] class X : ICollectionFixture&lt;DevBrokerFixture&gt;</c> declared in the test project
/// (xunit only discovers collection definitions in the test assembly itself).
/// Give every test its own topics (<see cref="CreateTopic"/>) and group ids (<see cref="ConsumerConfig"/>): the broker is
/// shared and classic groups re-join slowly once their last member left (facts/kafka-dev-broker.md).
/// Derive and call the protected constructor for other options (e.g. 3 brokers).
/// </summary>
public class DevBrokerFixture : IDisposable
{
    public DevBrokerFixture()
        : this(new MockClusterOptions())
    {
    }

    protected DevBrokerFixture(MockClusterOptions options) => Cluster = MockCluster.Start(options);

    /// <summary>The cluster, for anything beyond the helpers below.</summary>
    public MockCluster Cluster { get; }

    /// <summary>bootstrap.servers for clients.</summary>
    public string BootstrapServers => Cluster.BootstrapServers;

    /// <summary>A unique name starting with <paramref name="prefix"/>, e.g. for topics, groups, transactional ids.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Creates a topic named <paramref name="prefix"/> plus a unique suffix and returns its name.</summary>
    public string CreateTopic(string prefix, int partitions)
    {
        var name = UniqueName(prefix);
        Cluster.CreateTopic(name, partitions);
        return name;
    }

    /// <summary>Producer settings for this broker; callers may adjust the returned instance.</summary>
    public ProducerConfig ProducerConfig() => new()
    {
        BootstrapServers = BootstrapServers,
        // Same partitioner as production producers (Kafka's murmur2), so partition assertions hold everywhere.
        Partitioner = Partitioner.Murmur2Random,
        LingerMs = 5,
        Acks = Acks.All,
        EnableIdempotence = true,
    };

    /// <summary>Consumer settings with a fresh group id (<paramref name="groupPrefix"/> plus a unique suffix).</summary>
    /// <remarks>Short session timeout: on this broker a classic group whose last member left makes the next joiner
    /// wait session.timeout − 1 s (measured: 6000 → 5 s, 3000 → 2 s). Auto-commit is off so tests decide what is
    /// committed.</remarks>
    public ConsumerConfig ConsumerConfig(string groupPrefix = "test") => new()
    {
        BootstrapServers = BootstrapServers,
        GroupId = UniqueName(groupPrefix),
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = 3000,
        HeartbeatIntervalMs = 500,
    };

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Cluster.Dispose();
        }
    }
}
