using System.Net;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fulfillment.Hosting.Tests;

public sealed class HostingExtensionsTests
{
    private static WebApplication Build(params string[] args)
    {
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", .. args]);
        builder.AddFulfillmentDefaults("hosting-test");
        builder.Services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section);
        var app = builder.Build();
        app.MapFulfillmentEndpoints();
        return app;
    }

    private static Uri BaseAddress(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    [Fact]
    public async Task StartAsync_MissingBootstrapServers_FailsWithSectionAndMemberInMessage()
    {
        await using var app = Build();

        var error = await Should.ThrowAsync<OptionsValidationException>(() => app.StartAsync());

        error.Message.ShouldContain("BootstrapServers");
    }

    [Fact]
    public async Task StartAsync_MalformedBootstrapServers_FailsAtStart()
    {
        await using var app = Build("--Kafka:BootstrapServers", "not a host list");

        var error = await Should.ThrowAsync<OptionsValidationException>(() => app.StartAsync());

        error.Message.ShouldContain("host:port");
    }

    [Fact]
    public async Task HealthAndMetrics_ValidConfiguration_ServeHealthyJsonAndPrometheusText()
    {
        await using var app = Build("--Kafka:BootstrapServers", "127.0.0.1:19092");
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = BaseAddress(app) };

        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        var healthBody = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        health.StatusCode.ShouldBe(HttpStatusCode.OK);
        healthBody.GetProperty("service").GetString().ShouldBe("hosting-test");
        healthBody.GetProperty("status").GetString().ShouldBe("Healthy");
        metrics.ShouldContain("fulfillment_build_info{service=\"hosting-test\"");
        await app.StopAsync();
    }

    [Fact]
    public void Producer_Defaults_AreIdempotentLz4Murmur2()
    {
        var config = KafkaDefaults.Producer("127.0.0.1:19092");

        config.EnableIdempotence.ShouldBe(true);
        config.Acks.ShouldBe(Acks.All);
        config.CompressionType.ShouldBe(CompressionType.Lz4);
        config.Partitioner.ShouldBe(Partitioner.Murmur2Random);
    }

    [Fact]
    public void Consumer_Defaults_FailLoudlyOnLostOffsetsAndUseRangeAssignment()
    {
        var config = KafkaDefaults.Consumer("127.0.0.1:19092", "group-a");

        config.AutoOffsetReset.ShouldBe(AutoOffsetReset.Error);
        config.EnableAutoCommit.ShouldBe(false);
        config.PartitionAssignmentStrategy.ShouldBe(PartitionAssignmentStrategy.Range);
    }

    [Fact]
    public void Producer_EmptyBootstrap_Throws()
    {
        Should.Throw<ArgumentException>(() => KafkaDefaults.Producer(" "));
    }
}
