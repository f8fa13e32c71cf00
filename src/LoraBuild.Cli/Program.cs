using LoraBuild.Native;
var info = TorchRuntime.EnsureLoaded();
Console.WriteLine(info);
var a = TorchSharp.torch.randn(3, 3, requires_grad: true);
var l = (a * a).sum(); l.backward();
Console.WriteLine(a.grad!.ToString(TorchSharp.TensorStringStyle.Julia));
