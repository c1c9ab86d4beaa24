using Fulfillment.Sinks.Views;

var app = ViewsSinkApp.Build(args);
await app.RunAsync();
