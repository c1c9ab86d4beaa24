using System.ComponentModel.DataAnnotations;

namespace Fulfillment.Hosting;

/// <summary>Where Postgres is. Bound from the <c>Postgres</c> section (env <c>Postgres__ConnectionString</c>).</summary>
public sealed class PostgresOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Postgres";

    /// <summary>Npgsql connection string.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ConnectionString { get; set; } = "";
}
