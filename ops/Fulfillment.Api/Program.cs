using Fulfillment.Api;

var app = ApiApp.Build(args);
await app.RunAsync();
