// Petal's Conv2D against oneDNN's bare convolution primitives, on MobileNetV2's distinct
// layer shapes (224x224 input). Prints forward and backward (data + weights) GFLOP/s of
// both and Petal's share of the bare speed.
//
// Usage: PetalBenchmarks [--batch 32] [--runs 21] [--only <substring of a layer name>]
import Foundation
import PetalCore
import PetalLayers

struct LayerShape {
    var name: String
    var inputChannels: Int
    var size: Int
    var filters: Int
    var kernel: Int
    var stride: Int
    var groups: Int { name.contains("dw") ? inputChannels : 1 }
}

/// One of each kind of MobileNetV2 (alpha 1.0) layer at 224: the stem, every resolution's
/// expand / depthwise (stride 1 and 2) / project, and the final 1x1 to 1280; then
/// EfficientNet-Lite0's two 5x5 depthwise kinds.
let mobileNetV2: [LayerShape] = [
    LayerShape(name: "Conv1 3x3 s2 3->32", inputChannels: 3, size: 224, filters: 32, kernel: 3, stride: 2),
    LayerShape(name: "b0 dw3x3 s1 32@112", inputChannels: 32, size: 112, filters: 32, kernel: 3, stride: 1),
    LayerShape(name: "b0 project 32->16@112", inputChannels: 32, size: 112, filters: 16, kernel: 1, stride: 1),
    LayerShape(name: "b1 expand 16->96@112", inputChannels: 16, size: 112, filters: 96, kernel: 1, stride: 1),
    LayerShape(name: "b1 dw3x3 s2 96@112", inputChannels: 96, size: 112, filters: 96, kernel: 3, stride: 2),
    LayerShape(name: "b1 project 96->24@56", inputChannels: 96, size: 56, filters: 24, kernel: 1, stride: 1),
    LayerShape(name: "b2 expand 24->144@56", inputChannels: 24, size: 56, filters: 144, kernel: 1, stride: 1),
    LayerShape(name: "b2 dw3x3 s1 144@56", inputChannels: 144, size: 56, filters: 144, kernel: 3, stride: 1),
    LayerShape(name: "b3 dw3x3 s2 144@56", inputChannels: 144, size: 56, filters: 144, kernel: 3, stride: 2),
    LayerShape(name: "b3 project 144->32@28", inputChannels: 144, size: 28, filters: 32, kernel: 1, stride: 1),
    LayerShape(name: "b4 expand 32->192@28", inputChannels: 32, size: 28, filters: 192, kernel: 1, stride: 1),
    LayerShape(name: "b7 expand 64->384@14", inputChannels: 64, size: 14, filters: 384, kernel: 1, stride: 1),
    LayerShape(name: "b7 dw3x3 s1 384@14", inputChannels: 384, size: 14, filters: 384, kernel: 3, stride: 1),
    LayerShape(name: "b7 project 384->64@14", inputChannels: 384, size: 14, filters: 64, kernel: 1, stride: 1),
    LayerShape(name: "b13 dw3x3 s2 576@14", inputChannels: 576, size: 14, filters: 576, kernel: 3, stride: 2),
    LayerShape(name: "b16 project 960->320@7", inputChannels: 960, size: 7, filters: 320, kernel: 1, stride: 1),
    LayerShape(name: "Conv_1 320->1280@7", inputChannels: 320, size: 7, filters: 1280, kernel: 1, stride: 1),
    // EfficientNet-Lite0's 5x5 depthwise convolutions (not in MobileNetV2).
    LayerShape(name: "Lite0 dw5x5 s2 144@56", inputChannels: 144, size: 56, filters: 144, kernel: 5, stride: 2),
    LayerShape(name: "Lite0 dw5x5 s1 240@28", inputChannels: 240, size: 28, filters: 240, kernel: 5, stride: 1),
]

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

let batch = Int(option("--batch") ?? "32")!
let runs = Int(option("--runs") ?? "21")!
let only = option("--only")

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// A row-major tensor of small pseudo-random values converted to `layout` (so the padding
/// of blocked layouts stays zero, as in a real network).
func randomTensor(_ layout: TensorLayout, seed: UInt64) throws -> Tensor {
    var g = SplitMix64(seed: seed)
    let plain = try Tensor(shape: layout.shape, values: (0..<layout.shape.reduce(1, *)).map { _ in g.nextUnitFloat() - 0.5 })
    return try plain.reordered(to: layout)
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func number(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

print("Petal Conv2D vs bare oneDNN \(DNNL.version), batch \(batch), median of \(runs) runs after 2 warm-up steps, "
      + "\(DNNL.threads) threads")
print("GFLOP/s are medians; \"best\" is the ratio of the fastest runs (less sensitive to other processes).")
print("| layer | GFLOP | fwd Petal | fwd bare | fwd ratio | best | bwd Petal | bwd bare | bwd ratio | best | implementation (fwd / bwd-d / bwd-w) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
var worst = (ratio: Double.infinity, what: "")
for layer in mobileNetV2 where only.map({ layer.name.contains($0) }) ?? true {
    // Petal: the layer through its public API, in training mode, weights adopted by the warm-up step.
    let conv = try Conv2D(name: layer.name, inputChannels: layer.inputChannels, filters: layer.filters,
                      kernelSize: [layer.kernel, layer.kernel], strides: [layer.stride, layer.stride],
                      padding: .same, groups: layer.groups, useBias: false, seed: 1)
    let inputShape = [batch, layer.inputChannels, layer.size, layer.size]
    let spec = conv.spec(for: inputShape)
    let kernel = try ConvolutionKernel.cached(spec, training: true)
    // The input arrives as the previous layer wrote it: in the layout this convolution prefers.
    let x = try randomTensor(kernel.sourceLayout, seed: 2)
    let forwardContext = ForwardContext(training: true, keepForBackward: true)
    let backwardContext = BackwardContext(needsInputGradient: true)
    let y = try conv.forward([x], forwardContext)
    let dy = try randomTensor(y.layout, seed: 3)
    _ = try conv.backward(dy, backwardContext)

    // Bare oneDNN, same shape and padding.
    let bare = BareConvolution(.init(input: inputShape, outputChannels: layer.filters, kernel: layer.kernel,
                                     stride: layer.stride, padding: spec.padding, groups: layer.groups))
    bare.forward(); bare.backwardData(); bare.backwardWeights()

    var times: [String: [Double]] = [:]
    for run in 0..<(runs + 1) {   // run 0 is a second warm-up
        // Interleaved so that load from other processes hits both sides alike.
        let petalForward = try seconds { _ = try conv.forward([x], forwardContext) }
        let bareForward = seconds { bare.forward() }
        // As after an optimizer step: weights changed, so copies in other layouts are redone
        // (backward-by-data of 1x1 and stem convolutions reads the weights in its own layout).
        conv.weight.markUpdated()
        let petalBackward = try seconds { _ = try conv.backward(dy, backwardContext) }
        let bareBackward = seconds { bare.backwardData() } + seconds { bare.backwardWeights() }
        guard run > 0 else { continue }
        times["pf", default: []].append(petalForward)
        times["bf", default: []].append(bareForward)
        times["pb", default: []].append(petalBackward)
        times["bb", default: []].append(bareBackward)
    }
    let flops = spec.forwardFLOPs
    let gflops = { (key: String, factor: Double) in factor * flops / median(times[key]!) / 1e9 }
    let (pf, bf, pb, bb) = (gflops("pf", 1), gflops("bf", 1), gflops("pb", 2), gflops("bb", 2))
    let bestForward = times["bf"]!.min()! / times["pf"]!.min()!
    let bestBackward = times["bb"]!.min()! / times["pb"]!.min()!
    let ours = try kernel.implementations()
    let implementation = [ours.forward, ours.backwardData, ours.backwardWeights] == bare.implementations
        ? "\(ours.forward) / \(ours.backwardData) / \(ours.backwardWeights)"
        : "Petal \(ours) vs bare \(bare.implementations)"
    print("| \(layer.name) | \(number(flops / 1e9, 2)) | \(number(pf)) | \(number(bf)) | \(number(pf / bf, 2)) | "
          + "\(number(bestForward, 2)) | \(number(pb)) | \(number(bb)) | \(number(pb / bb, 2)) | "
          + "\(number(bestBackward, 2)) | \(implementation) |")
    fflush(nil)  // all output streams (Swift 6 rejects reading the C global `stdout`)
    if pf / bf < worst.ratio { worst = (pf / bf, "\(layer.name) forward") }
    if pb / bb < worst.ratio { worst = (pb / bb, "\(layer.name) backward") }
    withExtendedLifetime(bare) {}
}
print("\nLowest Petal/bare ratio: \(number(worst.ratio, 2)) (\(worst.what))")
