using System.Net;
using Fulfillment.Testing;

namespace Fulfillment.Api.Tests;

/// <summary>The deployable API process as <c>ops/fulfillment up</c> starts it: configured by environment variables only.</summary>
public sealed class ApiProcessTests : IAsyncLifetime
{
    private const string Key = "process-test-key-4f1c";

    private PostgresDatabase _database = null!;

    public async Task InitializeAsync() => _database = await PostgresDatabase.CreateAsync("api_process");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private Dictionary<string, string?> Environment(int port, bool withTenant) => new()
    {
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        // Never contacted by these requests (no command is produced): the API connects lazily.
        ["Kafka__BootstrapServers"] = "127.0.0.1:9",
        ["Kafka__SchemaRegistryUrl"] = "http://127.0.0.1:9",
        ["Postgres__ConnectionString"] = _database.ConnectionString,
        ["Api__Tenants__0__Name"] = withTenant ? "dev" : null,
        ["Api__Tenants__0__KeySha256"] = withTenant ? ApiKeys.Hash(Key) : null,
        ["Api__Tenants__0__Pools__0"] = withTenant ? "pool-dev" : null,
    };

    private static string Executable => Path.Combine(AppContext.BaseDirectory, "Fulfillment.Api");

    [Fact]
    public async Task ApiProcess_ConfiguredByEnvironmentOnly_ServesTheTenantAndNeverPrintsItsKey()
    {
        var port = FreePorts.ConsecutiveRange();
        using var api = ProcessRunner.Start(Executable, [], Environment(port, withTenant: true));
        await api.WaitForLineAsync(l => l.Contains("Now listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(120));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        using var anonymous = await client.GetAsync(new Uri("/orders", UriKind.Relative));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/orders", UriKind.Relative));
        request.Headers.Add(ApiKeys.Header, Key);
        using var keyed = await client.SendAsync(request);

        anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        keyed.StatusCode.ShouldBe(HttpStatusCode.OK, await keyed.Content.ReadAsStringAsync());
        api.Terminate();
        (await api.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBe(0, api.Output);
        api.Output.ShouldNotContain(Key);
    }

    [Fact]
    public async Task ApiProcess_NoTenantConfigured_RefusesToStartNamingTheSetting()
    {
        using var api = ProcessRunner.Start(Executable, [], Environment(FreePorts.ConsecutiveRange(), withTenant: false));

        (await api.WaitForExitAsync(TimeSpan.FromSeconds(120))).ShouldNotBe(0);
        api.Output.ShouldContain("Api:Tenants needs at least one tenant");
    }
}
