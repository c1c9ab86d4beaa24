using Fulfillment.Hosting;
using Fulfillment.Processors.Worker;

var builder = WebApplication.CreateBuilder(args);
builder.AddFulfillmentDefaults("inventory-pool");
builder.Services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section);
builder.Services.AddValidatedOptions<ProcessorOptions>(ProcessorOptions.Section);
builder.Services.AddSingleton<ProcessorHealth>();
builder.Services.AddHealthChecks().AddCheck<ProcessorHealth>("stream-runtime");
builder.Services.AddHostedService<InventoryPoolWorker>();

var app = builder.Build();
app.MapFulfillmentEndpoints();
await app.RunAsync();
