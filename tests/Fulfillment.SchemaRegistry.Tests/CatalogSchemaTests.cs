using System.Net;
using System.Reflection;
using Fulfillment.SchemaRegistry.Tests.Infrastructure;
using Fulfillment.Schemas.Compatibility;
using Fulfillment.Schemas.Topics;
using Fulfillment.Testing;

namespace Fulfillment.SchemaRegistry.Tests;

/// <summary>Every value schema of the topic catalog must be accepted by our registry, as the hub's producers will send it.</summary>
public class CatalogSchemaTests(InProcessRegistry fixture) : IClassFixture<InProcessRegistry>
{
    public static TheoryData<string> Topics()
    {
        var data = new TheoryData<string>();
        foreach (var topic in TopicCatalog.All.Where(t => t.ValueSchema is not null))
        {
            data.Add(topic.Name);
        }

        return data;
    }

    private static Avro.Schema GeneratedSchema(string topicName)
    {
        var spec = TopicCatalog.All.Single(t => t.Name == topicName);
        var type = typeof(TopicCatalog).Assembly.GetType(spec.ValueSchema!, throwOnError: true)!;
        return (Avro.Schema)type.GetField("_SCHEMA", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
    }

    [Theory]
    [MemberData(nameof(Topics))]
    public async Task CatalogValueSchema_RegistersOnceWithValidDefaults(string topic)
    {
        var schema = GeneratedSchema(topic);
        AvroDefaults.FindInvalidDefaults(schema).ShouldBeEmpty();
        var subject = $"{topic}-{Guid.NewGuid():N}-value";

        var first = await fixture.Http.RegisterAsync(subject, schema.ToString());
        var again = await fixture.Http.RegisterAsync(subject, schema.ToString());

        first.Status.ShouldBe(HttpStatusCode.OK, first.Body.ToString());
        again.Body.GetProperty("id").GetInt32().ShouldBe(first.Body.GetProperty("id").GetInt32());
    }
}
