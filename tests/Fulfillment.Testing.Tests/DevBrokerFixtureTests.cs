using Confluent.Kafka;

namespace Fulfillment.Testing.Tests;

public sealed class DevBrokerFixtureTests : IClassFixture<DevBrokerFixture>
{
    private readonly DevBrokerFixture _broker;

    public DevBrokerFixtureTests(DevBrokerFixture broker) => _broker = broker;

    [Fact]
    public void CreateTopic_SamePrefixTwice_ReturnsDistinctExistingTopics()
    {
        var first = _broker.CreateTopic("orders", 3);
        var second = _broker.CreateTopic("orders", 5);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _broker.BootstrapServers }).Build();

        var topics = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.ToDictionary(t => t.Topic, t => t.Partitions.Count);

        first.ShouldStartWith("orders-");
        first.ShouldNotBe(second);
        topics[first].ShouldBe(3);
        topics[second].ShouldBe(5);
    }

    [Fact]
    public void ConsumerConfig_CalledTwice_GivesUniqueGroupsOnThisBroker()
    {
        var first = _broker.ConsumerConfig("g");
        var second = _broker.ConsumerConfig("g");

        first.GroupId.ShouldNotBe(second.GroupId);
        first.BootstrapServers.ShouldBe(_broker.BootstrapServers);
    }

    [Fact]
    public async Task ProducerAndConsumerConfig_RoundTrip_DeliversInKeyPartitionOrder()
    {
        var topic = _broker.CreateTopic("fixture", 2);
        using (var producer = new ProducerBuilder<string, int>(_broker.ProducerConfig()).Build())
        {
            for (var i = 0; i < 20; i++)
            {
                await producer.ProduceAsync(topic, new Message<string, int> { Key = "same-key", Value = i });
            }
        }

        using var consumer = new ConsumerBuilder<string, int>(_broker.ConsumerConfig()).Build();
        consumer.Subscribe(topic);
        var values = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (values.Count < 20 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
            {
                values.Add(result.Message.Value);
            }
        }

        consumer.Close();
        values.ShouldBe(Enumerable.Range(0, 20));
    }
}
