namespace Fulfillment.Connectors.Webhooks;

internal static class Program
{
    private static async Task Main(string[] args) => await WebhooksApp.Build(args).RunAsync();
}
