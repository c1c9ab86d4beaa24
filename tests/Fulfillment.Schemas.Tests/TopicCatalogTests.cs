using Avro;
using Avro.Specific;
using Fulfillment.Schemas.Sources;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Schemas.Tests;

public class TopicCatalogTests
{
    public static TheoryData<string> TopicNames() => [.. TopicCatalog.All.Select(t => t.Name)];

    [Fact]
    public void Catalog_AsCommitted_HasNoBrokenInvariants()
    {
        TopicCatalog.Validate().ShouldBeEmpty();
    }

    [Fact]
    public void Catalog_PoolGroup_HoldsEverythingThatChangesOrConsumesPoolStock()
    {
        TopicCatalog.All.Where(t => t.CoPartitionGroup == TopicCatalog.PoolGroup).Select(t => t.Name).ShouldBe(
            [
                "fulfillment.orders",
                "fulfillment.stock-movements",
                "fulfillment.shipments",
                "fulfillment.operator-commands",
                "fulfillment.allocations",
                "fulfillment.stock-levels",
                "fulfillment-inventory-pool-commands-changelog",
                "fulfillment-inventory-pool-sequence-changelog",
                "fulfillment-inventory-pool-snapshots-changelog",
            ],
            ignoreOrder: true);
        TopicCatalog.All.Where(t => t.CoPartitionGroup == TopicCatalog.PoolGroup).ShouldAllBe(t => t.Partitions == TopicCatalog.PoolPartitions);
    }

    [Fact]
    public void Catalog_NamedProperties_AreExactlyTheListedTopics()
    {
        var properties = typeof(TopicCatalog).GetProperties()
            .Where(p => p.PropertyType == typeof(TopicSpec))
            .Select(p => (TopicSpec)p.GetValue(null)!);

        properties.ShouldBe(TopicCatalog.All, ignoreOrder: true);
    }

    [Fact]
    public void Catalog_RawAndCommandTopics_AreKeptForever()
    {
        // Everything downstream is rebuilt from these two (ARCHITECTURE.md decision 4).
        TopicCatalog.RawIngest.Retention.ShouldBe(RetentionIntent.Forever);
        TopicCatalog.OperatorCommands.Retention.ShouldBe(RetentionIntent.Forever);
        TopicCatalog.InventoryPoolCommandsChangelog.Retention.ShouldBe(RetentionIntent.Compacted);
        TopicCatalog.InventoryPoolSequenceChangelog.Retention.ShouldBe(RetentionIntent.Compacted);
        TopicCatalog.InventoryPoolSnapshotsChangelog.Retention.ShouldBe(RetentionIntent.Compacted);
    }

    [Theory]
    [MemberData(nameof(TopicNames))]
    public void Topic_ValueSchema_IsAnExistingRecordWhoseFirstFieldIsMetadata(string name)
    {
        var topic = TopicCatalog.Get(name);
        if (topic.ValueSchema is null)
        {
            topic.Retention.ShouldBe(RetentionIntent.Compacted, "only runtime changelogs carry raw bytes");
            return;
        }

        var schema = EmbeddedSchemas.Current[topic.ValueSchema].ShouldBeOfType<RecordSchema>();
        schema.Fields[0].Name.ShouldBe("metadata");
        schema.Fields[0].Schema.ShouldBeOfType<RecordSchema>().Fullname.ShouldBe("Fulfillment.Schemas.Common.EventMetadata");
        TopicCatalog.ValueTypeOf(topic).ShouldNotBeNull().IsAssignableTo(typeof(ISpecificRecord)).ShouldBeTrue();
    }

    [Theory]
    [MemberData(nameof(TopicNames))]
    public void Topic_EnvelopeBody_IsAUnionOfRecordsOnly(string name)
    {
        var topic = TopicCatalog.Get(name);
        if (topic.ValueSchema is null
            || EmbeddedSchemas.Current[topic.ValueSchema] is not RecordSchema schema
            || !schema.Contains("body")
            || schema["body"].Schema is not UnionSchema body)
        {
            return;
        }

        // Consumers dispatch on the body's record type; a null or primitive branch would have no event kind.
        schema.Fields[1].Name.ShouldBe("body");
        body.Schemas.ShouldAllBe(s => s.Tag == Schema.Type.Record);
        body.Schemas.Select(s => ((RecordSchema)s).Fullname).ShouldBeUnique();
    }

    [Fact]
    public void Validate_DuplicateName_IsReported()
    {
        var problems = TopicCatalog.Validate([TopicCatalog.Orders, TopicCatalog.Orders]);

        problems.ShouldHaveSingleItem().ShouldContain("fulfillment.orders");
    }

    [Fact]
    public void Validate_CoPartitionGroupWithDifferentCounts_IsReported()
    {
        var odd = TopicCatalog.Orders with { Name = "fulfillment.orders-v2", Partitions = 6 };

        var problems = TopicCatalog.Validate([TopicCatalog.Orders, odd]);

        problems.ShouldHaveSingleItem().ShouldContain("co-partition group 'pool'");
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("orders topic")]
    [InlineData("orders/placed")]
    [InlineData("ordérs")]
    public void Validate_InvalidKafkaName_IsReported(string name)
    {
        var problems = TopicCatalog.Validate([TopicCatalog.Tracking with { Name = name }]);

        problems.ShouldContain(p => p.Contains("not a valid Kafka topic name", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NameOf250Characters_IsReported()
    {
        TopicCatalog.IsValidTopicName(new string('a', 249)).ShouldBeTrue();
        TopicCatalog.IsValidTopicName(new string('a', 250)).ShouldBeFalse();
    }

    [Fact]
    public void Validate_NamesDifferingOnlyInDotAndUnderscore_AreReported()
    {
        var problems = TopicCatalog.Validate([TopicCatalog.Tracking, TopicCatalog.Tracking with { Name = "fulfillment_tracking" }]);

        problems.ShouldHaveSingleItem().ShouldContain("collide");
    }

    [Fact]
    public void Validate_ZeroPartitions_IsReported()
    {
        TopicCatalog.Validate([TopicCatalog.Tracking with { Partitions = 0 }]).ShouldHaveSingleItem().ShouldContain("at least 1");
    }
}
