using Fulfillment.Hosting;
using Microsoft.Extensions.Options;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Builds the outbound channel sync worker host (<c>/health</c>, <c>/metrics</c> on <c>--urls</c>, default
/// <see cref="DefaultUrl"/>). Configuration: <c>Kafka</c>, <c>ChannelSync</c> (shops, endpoints, tokens via the environment).</summary>
public static class ChannelSyncApp
{
    public const string DefaultUrl = "http://127.0.0.1:18111";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("sink-channel-sync");
        var services = builder.Services;
        services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section);
        services.AddValidatedOptions<ChannelSyncOptions>(ChannelSyncOptions.Section);
        services.AddSingleton<IValidateOptions<ChannelSyncOptions>, ChannelSyncOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddHttpClient(nameof(ChannelSync), c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<IChannelPusher>(sp => new ShopifyPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new WooCommercePusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new AmazonPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new EbayPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new TikTokShopPusher(Client(sp), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IChannelPusherLookup, PusherLookup>();
        services.AddSingleton<IPushRecorder, KafkaPushRecorder>();
        services.AddSingleton(sp => new PushExecutor(
            sp.GetServices<IChannelPusher>(), sp.GetRequiredService<IPushRecorder>(), sp.GetRequiredService<IOptions<ChannelSyncOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PushExecutor>>()));
        services.AddHostedService<ChannelSyncWorker>();

        var app = builder.Build();
        app.MapFulfillmentEndpoints();
        return app;
    }

    private static HttpClient Client(IServiceProvider sp) => sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(ChannelSync));
}
