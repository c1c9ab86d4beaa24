using Npgsql;

namespace Fulfillment.Testing.Tests;

public sealed class PostgresDatabaseTests
{
    [Fact]
    public async Task CreateAsync_ThenDispose_DatabaseExistsOnlyInBetween()
    {
        var database = await PostgresDatabase.CreateAsync("Fixture Test!");
        try
        {
            database.DatabaseName.ShouldStartWith("t_fixturetest_");
            await using var connection = await database.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT current_database()", connection);
            (await command.ExecuteScalarAsync()).ShouldBe(database.DatabaseName);
        }
        finally
        {
            await database.DisposeAsync();
        }

        (await DatabaseExistsAsync(database.DatabaseName)).ShouldBeFalse();
    }

    [Fact]
    public async Task DisposeAsync_WithOpenPooledConnection_StillDropsDatabase()
    {
        var database = await PostgresDatabase.CreateAsync("pooled");
        var open = await database.OpenAsync();

        await database.DisposeAsync();
        await database.DisposeAsync();

        await open.DisposeAsync();
        (await DatabaseExistsAsync(database.DatabaseName)).ShouldBeFalse();
    }

    [Fact]
    public async Task CreateAsync_TwoDatabases_GetDistinctNames()
    {
        await using var first = await PostgresDatabase.CreateAsync("same");
        await using var second = await PostgresDatabase.CreateAsync("same");

        first.DatabaseName.ShouldNotBe(second.DatabaseName);
    }

    [Fact]
    public async Task CreateAsync_ServerUnreachable_FailsWithInstructions()
    {
        // The server is passed, not set in FULFILLMENT_TEST_PG: the environment is the whole process's, and a registry
        // test running in parallel once read this unreachable server from it and failed in CI.
        var unreachable = $"Host=127.0.0.1;Port={FreePorts.ConsecutiveRange()};Username=postgres;Database=postgres;Timeout=3";

        var error = await Should.ThrowAsync<InvalidOperationException>(() => PostgresDatabase.CreateAsync("unreachable", unreachable));

        error.Message.ShouldContain("ops/fulfillment test");
        error.Message.ShouldContain("ops/dev/postgres.sh start");
    }

    private static async Task<bool> DatabaseExistsAsync(string name)
    {
        await using var connection = new NpgsqlConnection(PostgresDatabase.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return (long)(await command.ExecuteScalarAsync())! == 1;
    }
}
