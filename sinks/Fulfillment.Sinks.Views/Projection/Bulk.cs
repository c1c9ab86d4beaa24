using Npgsql;

namespace Fulfillment.Sinks.Views.Projection;

/// <summary>Column types a bulk statement can carry as a Postgres array parameter.</summary>
public enum ColType
{
    Text,
    Int,
    Long,
    Time,
    Bool,
    Numeric,
    Bytes,
    /// <summary>jsonb column, passed as text.</summary>
    Json,
    /// <summary>text[] column, passed as a JSON array text (unnest would flatten a 2-D array).</summary>
    TextArray,
}

/// <summary>One column of a bulk statement: name, type and how to read it from a row.</summary>
public sealed record Col<T>(string Name, ColType Type, Func<T, object?> Get);

/// <summary>
/// Multi-row statements as <c>INSERT … SELECT … FROM unnest(@p0, @p1, …)</c>: one round trip and one plan for a whole
/// batch, whatever its size.
/// </summary>
public static class Bulk
{
    /// <summary><c>INSERT INTO table (cols) SELECT … FROM unnest(…) AS u(cols) {tail}</c> with the rows as array parameters.</summary>
    public static NpgsqlCommand Insert<T>(NpgsqlConnection connection, NpgsqlTransaction tx, string table,
        IReadOnlyCollection<T> rows, IReadOnlyList<Col<T>> cols, string tail)
    {
        ArgumentNullException.ThrowIfNull(cols);
        var names = string.Join(", ", cols.Select(c => c.Name));
        var args = string.Join(", ", cols.Select((c, i) => $"@p{i}::{ArrayType(c.Type)}"));
        var select = string.Join(", ", cols.Select(c => c.Type switch
        {
            ColType.Json => $"u.{c.Name}::jsonb",
            ColType.TextArray => $"ARRAY(SELECT jsonb_array_elements_text(u.{c.Name}::jsonb))",
            _ => $"u.{c.Name}",
        }));
        var command = new NpgsqlCommand($"INSERT INTO {table} ({names}) SELECT {select} FROM unnest({args}) AS u({names}) {tail}", connection, tx);
        for (var i = 0; i < cols.Count; i++)
        {
            command.Parameters.Add(new NpgsqlParameter($"p{i}", ToArray(rows, cols[i])));
        }

        return command;
    }

    private static string ArrayType(ColType type) => type switch
    {
        ColType.Text or ColType.Json or ColType.TextArray => "text[]",
        ColType.Int => "int[]",
        ColType.Long => "bigint[]",
        ColType.Time => "timestamptz[]",
        ColType.Bool => "boolean[]",
        ColType.Numeric => "numeric[]",
        ColType.Bytes => "bytea[]",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static object ToArray<T>(IReadOnlyCollection<T> rows, Col<T> col) => col.Type switch
    {
        ColType.Text or ColType.Json or ColType.TextArray => rows.Select(r => (string?)col.Get(r)).ToArray(),
        ColType.Int => rows.Select(r => (int?)col.Get(r)).ToArray(),
        ColType.Long => rows.Select(r => (long?)col.Get(r)).ToArray(),
        ColType.Time => rows.Select(r => (DateTime?)col.Get(r)).ToArray(),
        ColType.Bool => rows.Select(r => (bool?)col.Get(r)).ToArray(),
        ColType.Numeric => rows.Select(r => (decimal?)col.Get(r)).ToArray(),
        ColType.Bytes => rows.Select(r => (byte[]?)col.Get(r)).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(col), col.Type, null),
    };
}
