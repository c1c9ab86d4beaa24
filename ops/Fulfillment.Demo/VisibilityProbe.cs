using Npgsql;

namespace Fulfillment.Demo;

/// <summary>
/// Tells the e2e bench which orders became visible in the views since it last asked, at a cost proportional to what is
/// new. Statement-level AFTER INSERT triggers on <c>allocation_decisions</c> and <c>backorders</c> copy the new rows'
/// order ids into <c>bench_e2e.visible</c> (a bigserial id) in the sink's own transaction, so a row there is visible
/// exactly when the decision is; the bench reads <c>id &gt; last</c>. Before, the bench asked "which of these pending
/// ids are there?" every 20 ms with up to 50,000 ids: under a backlog the planner's per-element selectivity estimate
/// alone took ~15 % of the sampled CPU of sink + Postgres, and the bench's own work grew the backlog it measured.
/// Reading by id assumes one writer commits these tables at a time (the views sink's state track does), so ids
/// commit in order. <see cref="DisposeAsync"/> drops the triggers and the schema again.
/// </summary>
public sealed class VisibilityProbe : IAsyncDisposable
{
    public const string ProbeSchema = "bench_e2e";

    private static readonly string[] Tables = ["allocation_decisions", "backorders"];

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _viewsSchema;
    private NpgsqlConnection? _connection;
    private NpgsqlCommand? _poll;
    private long _last;

    private VisibilityProbe(NpgsqlDataSource dataSource, string viewsSchema)
    {
        _dataSource = dataSource;
        _viewsSchema = viewsSchema;
    }

    /// <summary>Installs the triggers (replacing those of an earlier run that did not clean up) and opens the
    /// connection the polls use.</summary>
    public static async Task<VisibilityProbe> InstallAsync(NpgsqlDataSource dataSource, string viewsSchema, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        if (!System.Text.RegularExpressions.Regex.IsMatch(viewsSchema, "^[a-z_][a-z0-9_]{0,49}$"))
        {
            throw new ArgumentException($"'{viewsSchema}' is not a plain schema name", nameof(viewsSchema));
        }

        var probe = new VisibilityProbe(dataSource, viewsSchema);
        await using (var c = await dataSource.OpenConnectionAsync(ct))
        {
            var triggers = string.Join("\n", Tables.Select(t => $"""
                DROP TRIGGER IF EXISTS bench_e2e_visible ON {viewsSchema}.{t};
                CREATE TRIGGER bench_e2e_visible AFTER INSERT ON {viewsSchema}.{t}
                  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {ProbeSchema}.note_visible();
                """));
            await using var install = new NpgsqlCommand($"""
                CREATE SCHEMA IF NOT EXISTS {ProbeSchema};
                CREATE TABLE IF NOT EXISTS {ProbeSchema}.visible (id bigserial PRIMARY KEY, order_id text NOT NULL);
                CREATE OR REPLACE FUNCTION {ProbeSchema}.note_visible() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  INSERT INTO {ProbeSchema}.visible (order_id) SELECT order_id FROM new_rows;
                  RETURN NULL;
                END $$;
                {triggers}
                """, c);
            await install.ExecuteNonQueryAsync(ct);
            await using var last = new NpgsqlCommand($"SELECT coalesce(max(id), 0) FROM {ProbeSchema}.visible", c);
            probe._last = (long)(await last.ExecuteScalarAsync(ct))!;
        }

        probe._connection = await dataSource.OpenConnectionAsync(ct);
        probe._poll = new NpgsqlCommand($"SELECT id, order_id FROM {ProbeSchema}.visible WHERE id > $1 ORDER BY id", probe._connection);
        probe._poll.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 0 });
        await probe._poll.PrepareAsync(ct);
        return probe;
    }

    /// <summary>Order ids that became visible since the previous call (an order may appear more than once: one row per
    /// backordered line).</summary>
    public async Task<List<string>> NewlyVisibleAsync(CancellationToken ct)
    {
        var poll = _poll ?? throw new ObjectDisposedException(nameof(VisibilityProbe));
        ((NpgsqlParameter<long>)poll.Parameters[0]).TypedValue = _last;
        var ids = new List<string>();
        await using var reader = await poll.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            _last = reader.GetInt64(0);
            ids.Add(reader.GetString(1));
        }

        return ids;
    }

    public async ValueTask DisposeAsync()
    {
        if (_poll is not null)
        {
            await _poll.DisposeAsync();
            _poll = null;
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }

        await using var c = await _dataSource.OpenConnectionAsync(CancellationToken.None);
        await using var drop = new NpgsqlCommand(
            string.Join("\n", Tables.Select(t => $"DROP TRIGGER IF EXISTS bench_e2e_visible ON {_viewsSchema}.{t};"))
            + $"\nDROP SCHEMA IF EXISTS {ProbeSchema} CASCADE;", c);
        await drop.ExecuteNonQueryAsync(CancellationToken.None);
    }
}
