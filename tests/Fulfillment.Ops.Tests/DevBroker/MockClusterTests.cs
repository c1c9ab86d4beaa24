using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Fulfillment.DevBroker;
using Fulfillment.Testing;

namespace Fulfillment.Ops.Tests.DevBroker;

public sealed class MockClusterTests : IClassFixture<DevBrokerFixture>
{
    private readonly DevBrokerFixture _broker;

    public MockClusterTests(DevBrokerFixture broker) => _broker = broker;

    [Fact]
    public void Start_WithTopics_MetadataListsEveryTopicWithItsPartitionCount()
    {
        using var cluster = MockCluster.Start(new MockClusterOptions
        {
            BrokerCount = 3,
            Topics = [new("alpha", 3), new("beta", 12)],
        });
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));

        metadata.Brokers.Count.ShouldBe(3);
        metadata.Topics.Single(t => t.Topic == "alpha").Partitions.Count.ShouldBe(3);
        metadata.Topics.Single(t => t.Topic == "beta").Partitions.Count.ShouldBe(12);
    }

    [Fact]
    public void CreateTopic_NewName_MetadataShowsPartitions()
    {
        var topic = _broker.CreateTopic("create", 7);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _broker.BootstrapServers }).Build();

        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));

        metadata.Topics.Single().Error.IsError.ShouldBeFalse();
        metadata.Topics.Single().Partitions.Count.ShouldBe(7);
    }

    [Fact]
    public void CreateTopic_ZeroPartitions_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => _broker.Cluster.CreateTopic(DevBrokerFixture.UniqueName("zero"), 0));
    }

    [Fact]
    public void Dispose_Twice_DoesNotThrowAndStopsListeners()
    {
        var cluster = MockCluster.Start(new MockClusterOptions { Topics = [new("t", 1)] });
        var port = IPEndPoint.Parse(cluster.BootstrapServers).Port;

        cluster.Dispose();
        cluster.Dispose();

        Should.Throw<ObjectDisposedException>(() => cluster.CreateTopic("after", 1));
        using var probe = new TcpClient();
        Should.Throw<SocketException>(() => probe.Connect(IPAddress.Loopback, port));
    }

    [Fact]
    public void StartAndDispose_Repeatedly_EachClusterServesClients()
    {
        for (var i = 0; i < 2; i++)
        {
            using var cluster = MockCluster.Start(new MockClusterOptions { Topics = [new("again", 2)] });
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

            admin.GetMetadata("again", TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count.ShouldBe(2);
        }
    }

    [Fact]
    public void NativeLibrary_ConfluentAndMockCluster_ShareOneCopy()
    {
        using var producer = new ProducerBuilder<Null, string>(_broker.ProducerConfig()).Build();

        var mapped = NativeMethodsProbe.MappedLibrdkafkaFiles();

        mapped.Count.ShouldBe(1, string.Join(", ", mapped));
        MockCluster.NativeLibraryPath.ShouldBe(mapped[0]);
    }

    [Fact]
    public async Task ProduceConsume_KeysAndHeaders_RoundTrip()
    {
        var topic = _broker.CreateTopic("roundtrip", 4);
        using (var producer = new ProducerBuilder<string, string>(_broker.ProducerConfig()).Build())
        {
            for (var i = 0; i < 100; i++)
            {
                await producer.ProduceAsync(topic, new Message<string, string>
                {
                    Key = $"k{i}",
                    Value = $"v{i}",
                    Headers = [new Header("h", [(byte)i])],
                });
            }
        }

        using var consumer = new ConsumerBuilder<string, string>(_broker.ConsumerConfig()).Build();
        consumer.Subscribe(topic);
        var seen = new Dictionary<string, (string Value, byte Header)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (seen.Count < 100 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is not null)
            {
                seen[result.Message.Key] = (result.Message.Value, result.Message.Headers.GetLastBytes("h")[0]);
            }
        }

        consumer.Close();
        seen.Count.ShouldBe(100);
        seen["k42"].ShouldBe(("v42", (byte)42));
    }
}
