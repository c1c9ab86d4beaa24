using System.Net;
using System.Text.Json;
using Fulfillment.SchemaRegistry.Tests.Infrastructure;
using Fulfillment.Testing;
using Npgsql;
using static Fulfillment.SchemaRegistry.Tests.Infrastructure.Api;

namespace Fulfillment.SchemaRegistry.Tests;

public class RegistryPersistenceTests
{
    [Fact]
    public async Task Restart_OnSameDatabase_KeepsSchemasIdsVersionsAndConfig()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        var v1 = Record("Persisted", Field("id", "string"));
        var v2 = Record("Persisted", Field("id", "string"), Field("n", "long", "0"));
        int id1, id2;
        await using (var first = await InProcessRegistry.StartAsync(database.ConnectionString))
        {
            id1 = (await first.Http.RegisterAsync("persist-value", v1)).Body.GetProperty("id").GetInt32();
            id2 = (await first.Http.RegisterAsync("persist-value", v2)).Body.GetProperty("id").GetInt32();
            (await first.Http.PutReplyAsync("/config", new { compatibility = "FULL" })).Status.ShouldBe(HttpStatusCode.OK);
        }

        await using var second = await InProcessRegistry.StartAsync(database.ConnectionString);

        var byId = await second.Http.GetReplyAsync($"/schemas/ids/{id1}");
        byId.Status.ShouldBe(HttpStatusCode.OK);
        JsonDocument.Parse(byId.Body.GetProperty("schema").GetString()!).RootElement.GetProperty("name").GetString().ShouldBe("Persisted");
        (await second.Http.GetReplyAsync("/subjects/persist-value/versions/latest")).Body.GetProperty("id").GetInt32().ShouldBe(id2);
        (await second.Http.GetReplyAsync("/config")).Body.GetProperty("compatibilityLevel").GetString().ShouldBe("FULL");
        (await second.Http.RegisterAsync("persist-value", v1)).Body.GetProperty("id").GetInt32().ShouldBe(id1);
        var v3 = await second.Http.RegisterAsync("other-value", Record("Other", Field("x", "int")));
        v3.Body.GetProperty("id").GetInt32().ShouldBe(id2 + 1);
    }

    [Fact]
    public async Task Migrate_RunTwiceAndConcurrently_AppliesEachScriptOnce()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Migrator.MigrateAsync(dataSource, CancellationToken.None)));
        var again = await Migrator.MigrateAsync(dataSource, CancellationToken.None);

        concurrent.Sum(c => c.Count).ShouldBe(Migrator.ScriptNames.Count);
        Migrator.ScriptNames.Count.ShouldBeGreaterThan(0);
        again.ShouldBeEmpty();
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM registry.schema_migrations");
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(Migrator.ScriptNames.Count);
    }

    [Fact]
    public async Task Start_WithUnreachableDatabase_FailsToStart()
    {
        await Should.ThrowAsync<Exception>(() =>
            InProcessRegistry.StartAsync("Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=2"));
    }

    [Fact]
    public async Task Start_WithoutConnectionString_FailsValidation()
    {
        var error = await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => InProcessRegistry.StartAsync(""));
        error.Message.ShouldContain("ConnectionString");
    }

    [Fact]
    public async Task DefaultCompatibilityOption_None_IsTheGlobalLevelAndAllowsBreakingChanges()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        await using var server = await InProcessRegistry.StartAsync(database.ConnectionString, "--Registry:DefaultCompatibility", "none");

        (await server.Http.GetReplyAsync("/config")).Body.GetProperty("compatibilityLevel").GetString().ShouldBe("NONE");
        await server.Http.RegisterAsync("loose-value", Record("Loose", Field("id", "string")));
        (await server.Http.RegisterAsync("loose-value", Record("Loose", Field("id", "int")))).Status.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task DefaultCompatibilityOption_Unknown_FailsValidationAtStart()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");

        var error = await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            InProcessRegistry.StartAsync(database.ConnectionString, "--Registry:DefaultCompatibility", "SIDEWAYS"));
        error.Message.ShouldContain("DefaultCompatibility");
    }

    [Fact]
    public async Task Register_BackwardTransitiveSubject_ChecksEveryEarlierVersion()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        await using var server = await InProcessRegistry.StartAsync(database.ConnectionString);
        var v1 = Record("T", Field("id", "string"));
        var v2 = Record("T", Field("id", "string"), Field("qty", "int", "0"));
        var v3 = Record("T", Field("id", "string"), Field("qty", "int"));
        foreach (var subject in new[] { "plain-value", "transitive-value" })
        {
            await server.Http.RegisterAsync(subject, v1);
            await server.Http.RegisterAsync(subject, v2);
        }

        await server.Http.PutReplyAsync("/config/transitive-value", new { compatibility = "BACKWARD_TRANSITIVE" });

        (await server.Http.RegisterAsync("plain-value", v3)).Status.ShouldBe(HttpStatusCode.OK);
        var rejected = await server.Http.RegisterAsync("transitive-value", v3);
        rejected.Status.ShouldBe(HttpStatusCode.Conflict);
        rejected.Message.ShouldContain("BACKWARD_TRANSITIVE");
    }

    [Fact]
    public async Task Metrics_AfterRegistration_ExposeRegistryCounters()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        await using var server = await InProcessRegistry.StartAsync(database.ConnectionString);
        await server.Http.RegisterAsync("metered-value", Record("Metered", Field("id", "string")));
        await server.Http.GetReplyAsync("/schemas/ids/999");

        var text = await server.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        text.ShouldContain("fulfillment_schema_registry_schemas_registered_total");
        text.ShouldContain("fulfillment_schema_registry_requests_rejected_total{status=\"404\",error_code=\"40403\"}");
    }

    [Fact]
    public async Task Register_SchemaWithDocsDefaultsAliasesAndLogicalTypes_KeepsThemInStoredText()
    {
        await using var database = await PostgresDatabase.CreateAsync("registry");
        await using var server = await InProcessRegistry.StartAsync(database.ConnectionString);
        const string Schema = """
            {"type":"record","name":"Rich","namespace":"fulfillment.registry.test","doc":"record doc","aliases":["OldRich"],"fields":[
              {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2},"doc":"money"},
              {"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
              {"name":"status","type":{"type":"enum","name":"Status","symbols":["A","B"],"default":"A"},"default":"B"},
              {"name":"note","type":["null","string"],"default":null,"aliases":["comment"]}
            ]}
            """;

        var id = (await server.Http.RegisterAsync("rich-value", Schema)).Body.GetProperty("id").GetInt32();
        var stored = JsonDocument.Parse((await server.Http.GetReplyAsync($"/schemas/ids/{id}")).Body.GetProperty("schema").GetString()!).RootElement;

        stored.GetProperty("doc").GetString().ShouldBe("record doc");
        stored.GetProperty("aliases")[0].GetString().ShouldEndWith("OldRich");
        var fields = stored.GetProperty("fields");
        fields[0].GetProperty("type").GetProperty("logicalType").GetString().ShouldBe("decimal");
        fields[0].GetProperty("type").GetProperty("precision").GetInt32().ShouldBe(12);
        fields[0].GetProperty("doc").GetString().ShouldBe("money");
        fields[1].GetProperty("type").GetProperty("logicalType").GetString().ShouldBe("timestamp-micros");
        fields[2].GetProperty("default").GetString().ShouldBe("B");
        fields[2].GetProperty("type").GetProperty("default").GetString().ShouldBe("A");
        fields[3].GetProperty("default").ValueKind.ShouldBe(JsonValueKind.Null);
        fields[3].GetProperty("aliases")[0].GetString().ShouldBe("comment");
    }
}
