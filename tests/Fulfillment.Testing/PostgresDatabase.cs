using Npgsql;

namespace Fulfillment.Testing;

/// <summary>
/// A uniquely named, empty PostgreSQL database for one test class (xunit <c>IClassFixture&lt;PostgresDatabase&gt;</c>)
/// or one test (<c>await using var db = await PostgresDatabase.CreateAsync("prefix")</c>), dropped afterwards.
/// The server comes from env FULFILLMENT_TEST_PG (default: the project-local Postgres on 127.0.0.1:55432).
/// </summary>
public sealed class PostgresDatabase : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>Name of the environment variable holding the server's connection string.</summary>
    public const string EnvironmentVariable = "FULFILLMENT_TEST_PG";

    /// <summary>The project-local development server (ops/dev/postgres.sh).</summary>
    public const string DefaultServer = "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";

    private readonly string _server;
    private int _dropped;

    public PostgresDatabase()
        : this("test", ServerConnectionString)
    {
    }

    private PostgresDatabase(string prefix, string server)
    {
        _server = server;
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var clean = new string([.. prefix.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '_').Take(40)]);
        DatabaseName = $"t_{clean}_{suffix}";
        ConnectionString = new NpgsqlConnectionStringBuilder(_server) { Database = DatabaseName }.ConnectionString;
    }

    /// <summary>The server connection string in effect (env or default).</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value ? value : DefaultServer;

    /// <summary>The database's name.</summary>
    public string DatabaseName { get; }

    /// <summary>Connection string to this database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates a database whose name starts with t_<paramref name="prefix"/>.</summary>
    public static Task<PostgresDatabase> CreateAsync(string prefix = "test") => CreateAsync(prefix, ServerConnectionString);

    /// <summary>Creates a database on the given server. Tests that need another server pass it here: changing the
    /// environment variable would change it for every test running in parallel in the same process.</summary>
    public static async Task<PostgresDatabase> CreateAsync(string prefix, string server)
    {
        var database = new PostgresDatabase(prefix, server);
        await database.InitializeAsync();
        return database;
    }

    /// <summary>Opens a connection to this database.</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public async Task InitializeAsync()
    {
        await using var server = await OpenServerAsync(_server);
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{DatabaseName}\"", server);
        await create.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _dropped, 1) != 0)
        {
            return;
        }

        // Pooled idle connections of the test would otherwise keep the database busy.
        await using (var own = new NpgsqlConnection(ConnectionString))
        {
            NpgsqlConnection.ClearPool(own);
        }

        await using var server = await OpenServerAsync(_server);
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)", server);
        await drop.ExecuteNonQueryAsync();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private static async Task<NpgsqlConnection> OpenServerAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await connection.DisposeAsync();
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { Password = null };
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable at {builder.Host}:{builder.Port} ({EnvironmentVariable} or the default " +
                $"'{DefaultServer}'): {e.Message}. Run the tests through `ops/fulfillment test`, which starts it, " +
                "or start the project-local server with `ops/dev/postgres.sh start`.", e);
        }
    }
}
