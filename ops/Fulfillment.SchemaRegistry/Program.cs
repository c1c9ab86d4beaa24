namespace Fulfillment.SchemaRegistry;

internal static class Program
{
    private static async Task Main(string[] args) => await RegistryApp.Build(args).RunAsync();
}
