using Fulfillment.Testing;
using Npgsql;

namespace Fulfillment.Hosting.Tests;

/// <summary>The hub's one migration runner against a real Postgres (a throwaway database per test class).</summary>
public sealed class SqlMigratorTests : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private const string SamplePrefix = "Fulfillment.Hosting.Tests.Migrations.Sample.";
    private readonly PostgresDatabase _database;
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema = "m_" + Guid.NewGuid().ToString("N")[..12];

    public SqlMigratorTests(PostgresDatabase database)
    {
        _database = database;
        _dataSource = NpgsqlDataSource.Create(database.ConnectionString);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    private static IReadOnlyList<SqlScript> Sample => SqlMigrator.EmbeddedScripts(typeof(SqlMigratorTests).Assembly, SamplePrefix);

    [Fact]
    public void EmbeddedScripts_UnderAPrefix_AreOnlyThatSetInNameOrder()
    {
        Sample.Select(s => s.Name).ShouldBe(["001_items.sql", "002_item_sku.sql"]);
        Sample[0].Sql.ShouldContain("CREATE TABLE items");
    }

    [Fact]
    public async Task MigrateAsync_FreshSchema_AppliesEveryScriptInOrderIntoThatSchema()
    {
        var applied = await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None);

        applied.ShouldBe(["001_items.sql", "002_item_sku.sql"]);
        (await ColumnsAsync("items")).ShouldBe(["id", "name", "sku"]);
        (await ScalarAsync<long>($"SELECT count(*) FROM {_schema}.schema_migrations")).ShouldBe(2);
    }

    [Fact]
    public async Task MigrateAsync_SecondRun_AppliesNothing()
    {
        await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None);

        var again = await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None);

        again.ShouldBeEmpty();
    }

    [Fact]
    public async Task MigrateAsync_ANewScriptLater_AppliesOnlyTheNewOne()
    {
        await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample.Take(1).ToList(), CancellationToken.None);

        var applied = await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None);

        applied.ShouldBe(["002_item_sku.sql"]);
        (await ColumnsAsync("items")).ShouldContain("sku");
    }

    [Fact]
    public async Task MigrateAsync_ConcurrentCallers_ApplyEachScriptExactlyOnce()
    {
        // 001 fails when applied twice, so a race would surface as an exception here.
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            Task.Run(() => SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None))));

        results.Sum(r => r.Count).ShouldBe(2);
        results.Count(r => r.Count == 2).ShouldBe(1);
    }

    [Fact]
    public async Task MigrateAsync_AFailingScript_LeavesTheSchemaAsItWas()
    {
        await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample.Take(1).ToList(), CancellationToken.None);
        SqlScript[] scripts = [.. Sample, new("003_broken.sql", "ALTER TABLE items ADD COLUMN colour text; SELECT * FROM no_such_table;")];

        var e = await Should.ThrowAsync<InvalidOperationException>(() => SqlMigrator.MigrateAsync(_dataSource, _schema, scripts, CancellationToken.None));

        e.Message.ShouldContain("003_broken.sql");
        (await ColumnsAsync("items")).ShouldBe(["id", "name"]);
        (await ScalarAsync<long>($"SELECT count(*) FROM {_schema}.schema_migrations")).ShouldBe(1);
    }

    [Fact]
    public async Task MigrateAsync_SameScriptsTwoSchemas_BuildsTwoIndependentCopies()
    {
        var second = _schema + "_copy";

        await SqlMigrator.MigrateAsync(_dataSource, _schema, Sample, CancellationToken.None);
        var applied = await SqlMigrator.MigrateAsync(_dataSource, second, Sample, CancellationToken.None);

        applied.Count.ShouldBe(2);
        (await ColumnsAsync("items", second)).ShouldBe(["id", "name", "sku"]);
    }

    [Theory]
    [InlineData("Views")]
    [InlineData("x; DROP TABLE items")]
    [InlineData("")]
    [InlineData("1abc")]
    public async Task MigrateAsync_SchemaNameNotAPlainIdentifier_Throws(string schema)
    {
        await Should.ThrowAsync<ArgumentException>(() => SqlMigrator.MigrateAsync(_dataSource, schema, Sample, CancellationToken.None));
    }

    [Fact]
    public async Task MigrateAsync_TwoScriptsWithOneName_Throws()
    {
        SqlScript[] scripts = [new("001.sql", "SELECT 1"), new("001.sql", "SELECT 2")];

        await Should.ThrowAsync<ArgumentException>(() => SqlMigrator.MigrateAsync(_dataSource, _schema, scripts, CancellationToken.None));
    }

    private async Task<List<string>> ColumnsAsync(string table, string? schema = null)
    {
        await using var c = await _database.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = @s AND table_name = @t ORDER BY ordinal_position", c);
        command.Parameters.AddWithValue("s", schema ?? _schema);
        command.Parameters.AddWithValue("t", table);
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var c = await _database.OpenAsync();
        await using var command = new NpgsqlCommand(sql, c);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
