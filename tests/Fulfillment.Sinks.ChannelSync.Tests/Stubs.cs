using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using WireMock.Server;
using WireMock.Settings;

namespace Fulfillment.Sinks.ChannelSync.Tests;

/// <summary>Collects outcomes and dead letters in memory (stands in for Kafka in these tests of the executor).</summary>
public sealed class RecordingRecorder : IPushRecorder
{
    public List<ChannelPushOutcome> Outcomes { get; } = [];

    public List<DeadLetter> DeadLetters { get; } = [];

    public Task RecordAsync(ChannelPushOutcome outcome, CancellationToken cancellationToken)
    {
        lock (Outcomes)
        {
            Outcomes.Add(outcome);
        }

        return Task.CompletedTask;
    }

    public Task DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        lock (DeadLetters)
        {
            DeadLetters.Add(deadLetter);
        }

        return Task.CompletedTask;
    }
}

/// <summary>A WireMock server on 127.0.0.1 replaying a vendor's documented responses, plus the executor wired to it.</summary>
public sealed class VendorStub : IDisposable
{
    private readonly HttpClient _http = new();

    public VendorStub(Channel channel, string shopId, int maxAttempts = 4)
    {
        var port = FreePorts.ConsecutiveRange();
        Server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{port}"] });
        Options = new ChannelSyncOptions { MaxAttempts = maxAttempts, BaseDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(5) };
        Endpoint = new ChannelEndpoint
        {
            Channel = channel,
            ShopId = shopId,
            BaseUrl = new Uri(Server.Urls[0]),
            Token = "test-token",
            MarketplaceId = "ATVPDKIKX0DER",
            LocationId = "gid://shopify/Location/655441491",
            AppKey = "6abc123def456",
            AppSecret = TikTokAppSecret,
            ShopCipher = "GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3",
            WarehouseId = "7068517275539719942",
        };
        Endpoint.ShippingProviders["UPS"] = "6617675021119438597";
        Options.Shops.Add(Endpoint);
        IChannelPusher[] pushers = [new ShopifyPusher(_http), new WooCommercePusher(_http), new AmazonPusher(_http), new EbayPusher(_http), new TikTokShopPusher(_http, TimeProvider.System)];
        Executor = new PushExecutor(pushers, Recorder, Microsoft.Extensions.Options.Options.Create(Options), TimeProvider.System,
            NullLogger<PushExecutor>.Instance, (wait, _) =>
            {
                Waits.Add(wait);
                return Task.CompletedTask;
            });
        Lookup = new OperationLookup(pushers);
    }

    public const string TikTokAppSecret = "e59af819cc";

    public WireMockServer Server { get; }

    public ChannelSyncOptions Options { get; }

    public ChannelEndpoint Endpoint { get; }

    public RecordingRecorder Recorder { get; } = new();

    /// <summary>Backoff waits the executor asked for, in order (returned at once so tests run fast).</summary>
    public List<TimeSpan> Waits { get; } = [];

    public PushExecutor Executor { get; }

    public IChannelPusherLookup Lookup { get; }

    public int Calls(string pathContains, string? bodyContains = null) =>
        Server.LogEntries.Count(e => e.RequestMessage.Path.Contains(pathContains, StringComparison.Ordinal)
            && (bodyContains is null || (e.RequestMessage.Body ?? "").Contains(bodyContains, StringComparison.Ordinal)));

    public IEnumerable<string> Bodies(string pathContains, string? bodyContains = null) =>
        Server.LogEntries.Where(e => e.RequestMessage.Path.Contains(pathContains, StringComparison.Ordinal)
                && (bodyContains is null || (e.RequestMessage.Body ?? "").Contains(bodyContains, StringComparison.Ordinal)))
            .Select(e => e.RequestMessage.Body ?? "");

    public void Dispose()
    {
        Server.Stop();
        Server.Dispose();
        _http.Dispose();
    }

    private sealed class OperationLookup(IEnumerable<IChannelPusher> pushers) : IChannelPusherLookup
    {
        public PushOperation ShipmentOperation(Channel channel) => pushers.First(p => p.Channel == channel).ShipmentOperation;
    }
}
