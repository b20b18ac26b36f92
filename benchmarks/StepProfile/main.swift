// One training step of a transfer classifier, timed part by part, for
// benchmarks/step_profile.sh: the script runs this with ONEDNN_VERBOSE=2 and sums the oneDNN
// primitives' own times between the markers printed here, against the step's wall time.
//
// Usage: PetalStepProfile --backbone mobilenetv2 --size 160 --batch 32 --phase 1|2
//                         [--warmup 3] [--steps 3]
// Weights are random (timing does not depend on their values); the input is a fixed
// pseudo-random batch, as the loader would hand it over (NHWC, normalised).
import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels
import PetalTraining

func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return fallback }
    return args[i + 1]
}

let backbone = option("--backbone", "mobilenetv2")
let size = Int(option("--size", "160"))!
let batchSize = Int(option("--batch", "32"))!
let phase = Int(option("--phase", "1"))!
let warmup = Int(option("--warmup", "3"))!
let steps = Int(option("--steps", "3"))!
guard let architecture = Architecture(name: backbone, alpha: 1) else {
    FileHandle.standardError.write(Data("unknown backbone \(backbone)\n".utf8))
    exit(64)
}

let classes = 5
let classifier = try TransferClassifier(architecture: architecture, classNames: (0..<classes).map { "c\($0)" },
                                        inputSize: size, base: .none, seed: 1)
let fineTuneAt = classifier.layerIndex(named: architecture.defaultFineTuneAt)
    ?? Int(architecture.defaultFineTuneAt)!
if phase == 1 {
    classifier.freezeBase()
} else {
    classifier.unfreezeBase(from: fineTuneAt)
}
let network = classifier.network
let parameters = network.trainableParameters
let optimizer = try OptimizerSpec(kind: .rmsprop, learningRate: phase == 1 ? 1e-3 : 1e-4).makeOptimizer()

let images = try Tensor(layout: .nhwc([batchSize, 3, size, size]))
var generator = SplitMix64(seed: 7)
for i in 0..<images.count { images.floats[i] = generator.nextUnitFloat() * 2 - 1 }
let labels = (0..<batchSize).map { $0 % classes }

func marker(_ text: String) {
    print(text)
    fflush(nil)  // all C streams: oneDNN's verbose lines and ours stay in order
}

/// Seconds spent in `body`.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

PeakMemory.reset()
marker("petal-step-profile: \(architecture) \(size)px batch \(batchSize) phase \(phase) (fine-tune at \(fineTuneAt)), \(parameters.count) trainable tensors, \(DNNL.threads) threads, isa \(DNNL.isa)")
for step in 0..<(warmup + steps) {
    let measured = step >= warmup
    if measured { marker("petal-step-begin \(step - warmup)") }
    var logits: Tensor!
    var result: SoftmaxCrossEntropy.Result!
    let forward = try timed { logits = try network.forward(images, training: true) }
    let loss = try timed { result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels) }
    let backward = try timed { try network.backward(result.logitsGradient) }
    let update = try timed { try optimizer.step(parameters) }
    let wall = forward + loss + backward + update
    if measured {
        marker(String(format: "petal-step-end %d wall_ms=%.3f forward_ms=%.3f loss_ms=%.3f backward_ms=%.3f optimizer_ms=%.3f",
                      step - warmup, wall * 1e3, forward * 1e3, loss * 1e3, backward * 1e3, update * 1e3))
    }
}
// Peak resident memory of the steps (model, batch, activations, gradients, primitives' scratch).
marker(String(format: "petal-step-memory peak_rss_mb=%.0f", Double(PeakMemory.bytes ?? 0) / 1e6))
