using System.Net;

namespace Fulfillment.Testing.Tests;

public sealed class InProcessRegistryTests
{
    [Fact]
    public async Task StartAsync_WithoutDatabase_ServesSubjectsAndDropsItsDatabaseOnDispose()
    {
        string connectionString;
        await using (var registry = await InProcessRegistry.StartAsync())
        {
            connectionString = registry.ConnectionString;
            registry.Url.ShouldStartWith("http://127.0.0.1:");
            registry.Url.ShouldNotEndWith("/");

            using var reply = await registry.Http.GetAsync(new Uri("/subjects", UriKind.Relative));

            reply.StatusCode.ShouldBe(HttpStatusCode.OK);
            (await reply.Content.ReadAsStringAsync()).ShouldBe("[]");
        }

        var name = new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database;
        await using var server = new Npgsql.NpgsqlConnection(PostgresDatabase.ServerConnectionString);
        await server.OpenAsync();
        await using var exists = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @n", server);
        exists.Parameters.AddWithValue("n", name!);
        ((long)(await exists.ExecuteScalarAsync())!).ShouldBe(0);
    }

    [Fact]
    public async Task StartAsync_OnAGivenDatabase_KeepsItsSchemasAcrossRestarts()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry_restart");
        const string Body = """{"schema":"{\"type\":\"string\"}"}""";
        await using (var first = await InProcessRegistry.StartAsync(database.ConnectionString))
        {
            using var content = new StringContent(Body, System.Text.Encoding.UTF8, "application/vnd.schemaregistry.v1+json");
            using var registered = await first.Http.PostAsync(new Uri("/subjects/s-value/versions", UriKind.Relative), content);
            registered.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await using var second = await InProcessRegistry.StartAsync(database.ConnectionString);
        using var reply = await second.Http.GetAsync(new Uri("/subjects", UriKind.Relative));

        (await reply.Content.ReadAsStringAsync()).ShouldBe("""["s-value"]""");
    }

    [Fact]
    public async Task StartAsync_BadConfiguration_ThrowsOptionsValidation()
    {
        await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => InProcessRegistry.StartAsync(null, "--Registry:DefaultCompatibility", "SIDEWAYS"));
    }
}
