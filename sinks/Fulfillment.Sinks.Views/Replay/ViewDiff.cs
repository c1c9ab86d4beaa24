using Dapper;
using Npgsql;

namespace Fulfillment.Sinks.Views.Replay;

/// <summary>One row present on one side of a diff only.</summary>
/// <param name="Table">Base table name.</param>
/// <param name="Side">The schema that has the row.</param>
/// <param name="RowJson">The compared columns of the row, as JSON.</param>
public sealed record RowDifference(string Table, string Side, string RowJson);

/// <summary>
/// Row-by-row comparison of two views schemas: <c>EXCEPT</c> both ways on every base table, over the columns that are a
/// deterministic function of the topics. Bookkeeping columns (<c>sunk_at</c>, <c>src_*</c>) and tables
/// (<c>sink_offsets</c>, <c>schema_migrations</c>) are excluded by name, per the convention in 001_views.sql.
/// </summary>
public static class ViewDiff
{
    private static readonly string[] SkippedTables = ["sink_offsets", "schema_migrations"];

    /// <summary>Whether a column is bookkeeping that legitimately differs between a live run and a rebuild.</summary>
    public static bool IsBookkeeping(string column) => column == "sunk_at" || column.StartsWith("src_", StringComparison.Ordinal);

    /// <summary>Differences between <paramref name="left"/> and <paramref name="right"/>, at most <paramref name="limitPerSide"/>
    /// rows per table and side, run on <paramref name="connection"/> (callers choose the transaction and snapshot).</summary>
    public static async Task<IReadOnlyList<RowDifference>> CompareAsync(
        NpgsqlConnection connection, string left, string right, int limitPerSide = 100, NpgsqlTransaction? tx = null, CancellationToken ct = default)
    {
        SchemaMigrator.CheckSchemaName(left);
        SchemaMigrator.CheckSchemaName(right);
        var columns = (await connection.QueryAsync<(string Table, string Column)>(new CommandDefinition(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = @left AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position
            """, new { left }, tx, cancellationToken: ct))).ToList();
        var differences = new List<RowDifference>();
        foreach (var table in columns.GroupBy(c => c.Table, StringComparer.Ordinal))
        {
            if (SkippedTables.Contains(table.Key))
            {
                continue;
            }

            var compared = string.Join(", ", table.Select(c => c.Column).Where(c => !IsBookkeeping(c)).Select(c => $"\"{c}\""));
            foreach (var (from, other) in new[] { (left, right), (right, left) })
            {
                var rows = await connection.QueryAsync<string>(new CommandDefinition(
                    $"""
                    SELECT row_to_json(d)::text FROM (
                      SELECT {compared} FROM {from}."{table.Key}" EXCEPT ALL SELECT {compared} FROM {other}."{table.Key}"
                    ) d ORDER BY 1 LIMIT {limitPerSide}
                    """, transaction: tx, cancellationToken: ct, commandTimeout: 600));
                differences.AddRange(rows.Select(r => new RowDifference(table.Key, from, r)));
            }
        }

        return differences;
    }
}
