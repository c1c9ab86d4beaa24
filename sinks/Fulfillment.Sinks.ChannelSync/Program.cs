namespace Fulfillment.Sinks.ChannelSync;

internal static class Program
{
    private static async Task Main(string[] args) => await ChannelSyncApp.Build(args).RunAsync();
}
