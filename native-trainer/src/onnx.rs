//! The generator as an ONNX graph (opset 17), for other runtimes (onnxruntime, onnxruntime-web)
//! and for benchmarking this project against them on the same network.
//!
//! The graph takes `input` `[batch, 3, height, width]` in [-1, 1] (height and width multiples of
//! 8, as the project's pre-processing pads them) and gives `output` of the same shape, exactly as
//! [`Generator::forward`]: for the U-Net, convolutions, transposed convolutions, ReLU, the
//! skips' additions, the global skip and the final clip; for the ResNet, reflection pads,
//! convolutions, BatchNorm (running statistics) or InstanceNorm, ReLU, nearest ×2 resizes or
//! transposed convolutions, tanh, the global skip and the final clip. Weights are stored as 32-bit floats. Written with a small protobuf encoder of
//! the fields used (no code generation, no dependency).

use anyhow::{Result, bail};
use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use deblurgan::model::{
    ConvNormAct, Generator, GeneratorVariant, Norm, PlainResidualBlock, ResnetBlock, ResnetGenerator, UNet, Upsample,
};

/// The ONNX operator set the graph uses.
pub const OPSET: i64 = 17;

/// Protobuf encoding of the few message shapes ONNX needs.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(((field as u64) << 3) | wire_type as u64);
    }

    fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(value as u64);
        self
    }

    fn float(&mut self, field: u32, value: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    fn message(&mut self, field: u32, value: Message) -> &mut Self {
        self.bytes(field, &value.0)
    }
}

/// An attribute of a node.
enum Attribute {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    String(&'static str),
}

fn attribute(name: &str, value: &Attribute) -> Message {
    // AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, INTS 7).
    let mut m = Message::default();
    m.string(1, name);
    match value {
        Attribute::Float(f) => m.float(2, *f).int(20, 1),
        Attribute::Int(i) => m.int(3, *i).int(20, 2),
        Attribute::String(s) => m.string(4, s).int(20, 3),
        Attribute::Ints(values) => {
            for v in values {
                m.int(8, *v);
            }
            m.int(20, 7)
        }
    };
    m
}

/// A pair of sizes (kernel, strides, …) as an `INTS` attribute.
fn pair(values: [usize; 2]) -> Attribute {
    Attribute::Ints(values.iter().map(|&v| v as i64).collect())
}

/// TensorProto data types.
const FLOAT: i64 = 1;
const INT64: i64 = 7;

fn tensor_proto(name: &str, dims: &[usize], data_type: i64, raw: &[u8]) -> Message {
    // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
    let mut m = Message::default();
    for d in dims {
        m.int(1, *d as i64);
    }
    m.int(2, data_type).string(8, name).bytes(9, raw);
    m
}

fn value_info(name: &str, dims: &[Result<usize, &str>]) -> Message {
    // ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1, shape 2 → dim 1
    // → dim_value 1 | dim_param 2.
    let mut shape = Message::default();
    for dim in dims {
        let mut d = Message::default();
        match dim {
            Ok(value) => d.int(1, *value as i64),
            Err(param) => d.string(2, param),
        };
        shape.message(1, d);
    }
    let mut tensor_type = Message::default();
    tensor_type.int(1, FLOAT).message(2, shape);
    let mut type_proto = Message::default();
    type_proto.message(1, tensor_type);
    let mut m = Message::default();
    m.string(1, name).message(2, type_proto);
    m
}

/// The graph being written: nodes and initialisers, with fresh value names.
#[derive(Default)]
struct Graph {
    nodes: Vec<Message>,
    initializers: Vec<Message>,
    names: usize,
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.names += 1;
        format!("{hint}_{}", self.names)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attributes: &[(&str, Attribute)]) -> String {
        let output = self.fresh(&op.to_lowercase());
        self.node_into(op, inputs, attributes, output)
    }

    /// A node whose output has the name `output`.
    fn node_into(&mut self, op: &str, inputs: &[&str], attributes: &[(&str, Attribute)], output: String) -> String {
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
        let mut m = Message::default();
        for input in inputs {
            m.string(1, input);
        }
        m.string(2, &output).string(3, &output).string(4, op);
        for (name, value) in attributes {
            m.message(5, attribute(name, value));
        }
        self.nodes.push(m);
        output
    }

    fn floats(&mut self, hint: &str, dims: &[usize], values: &[f32]) -> String {
        let name = self.fresh(hint);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor_proto(&name, dims, FLOAT, &raw));
        name
    }

    fn ints(&mut self, hint: &str, values: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor_proto(&name, &[values.len()], INT64, &raw));
        name
    }

    fn tensor<const D: usize>(&mut self, hint: &str, tensor: &Tensor<D>) -> String {
        let values = tensor.to_data().try_into_vec_as::<f32>().expect("f32 values");
        self.floats(hint, &tensor.dims(), &values)
    }

    fn param<const D: usize>(&mut self, hint: &str, param: &Param<Tensor<D>>) -> String {
        self.tensor(hint, &param.val())
    }

    fn reflect_pad(&mut self, x: &str, pad: usize) -> String {
        let p = pad as i64;
        let pads = self.ints("pads", &[0, 0, p, p, 0, 0, p, p]);
        self.node("Pad", &[x, &pads], &[("mode", Attribute::String("reflect"))])
    }

    /// A (transposed) convolution's inputs: `x`, its kernel and its bias if it has one.
    fn weighted(&mut self, x: &str, hint: &str, weight: &Param<Tensor<4>>, bias: &Option<Param<Tensor<1>>>) -> Vec<String> {
        let mut inputs = vec![x.to_string(), self.param(&format!("{hint}_weight"), weight)];
        if let Some(bias) = bias {
            inputs.push(self.param(&format!("{hint}_bias"), bias));
        }
        inputs
    }

    fn conv(&mut self, x: &str, conv: &Conv2d) -> Result<String> {
        let padding = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            ref other => bail!("ONNX export: convolution padding {other:?} is not supported"),
        };
        let inputs = self.weighted(x, "conv", &conv.weight, &conv.bias);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.node(
            "Conv",
            &inputs,
            &[
                ("kernel_shape", pair(conv.kernel_size)),
                ("strides", pair(conv.stride)),
                ("dilations", pair(conv.dilation)),
                ("group", Attribute::Int(conv.groups as i64)),
                // ONNX order: begins (top, left), then ends (bottom, right).
                ("pads", Attribute::Ints(padding.map(|p| p as i64).into())),
            ],
        ))
    }

    fn conv_transpose(&mut self, x: &str, conv: &ConvTranspose2d) -> String {
        let inputs = self.weighted(x, "deconv", &conv.weight, &conv.bias);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let [ph, pw] = conv.padding;
        self.node(
            "ConvTranspose",
            &inputs,
            &[
                ("kernel_shape", pair(conv.kernel_size)),
                ("strides", pair(conv.stride)),
                ("dilations", pair(conv.dilation)),
                ("group", Attribute::Int(conv.groups as i64)),
                ("pads", Attribute::Ints(vec![ph as i64, pw as i64, ph as i64, pw as i64])),
                ("output_padding", pair(conv.padding_out)),
            ],
        )
    }

    fn norm(&mut self, x: &str, norm: &Norm, channels: usize) -> String {
        match norm {
            Norm::Batch(bn) => {
                let scale = self.param("bn_scale", &bn.gamma);
                let bias = self.param("bn_bias", &bn.beta);
                let mean = self.tensor("bn_mean", &bn.running_mean.value());
                let var = self.tensor("bn_var", &bn.running_var.value());
                self.node(
                    "BatchNormalization",
                    &[x, &scale, &bias, &mean, &var],
                    &[("epsilon", Attribute::Float(bn.epsilon as f32))],
                )
            }
            Norm::Instance(norm) => {
                let scale = match &norm.gamma {
                    Some(gamma) => self.param("in_scale", gamma),
                    None => self.floats("in_scale", &[channels], &vec![1.0; channels]),
                };
                let bias = match &norm.beta {
                    Some(beta) => self.param("in_bias", beta),
                    None => self.floats("in_bias", &[channels], &vec![0.0; channels]),
                };
                self.node(
                    "InstanceNormalization",
                    &[x, &scale, &bias],
                    &[("epsilon", Attribute::Float(norm.epsilon as f32))],
                )
            }
            Norm::None(_) => x.to_string(),
        }
    }

    fn conv_norm_act(&mut self, x: &str, block: &ConvNormAct) -> Result<String> {
        let channels = block.conv.weight.dims()[0];
        let y = self.conv(x, &block.conv)?;
        let y = self.norm(&y, &block.norm, channels);
        Ok(self.node("Relu", &[&y], &[]))
    }

    fn resnet_block(&mut self, x: &str, block: &ResnetBlock) -> Result<String> {
        let channels = block.conv1.weight.dims()[0];
        let y = self.reflect_pad(x, 1);
        let y = self.conv(&y, &block.conv1)?;
        let y = self.norm(&y, &block.norm1, channels);
        let y = self.node("Relu", &[&y], &[]);
        let y = self.reflect_pad(&y, 1);
        let y = self.conv(&y, &block.conv2)?;
        let y = self.norm(&y, &block.norm2, channels);
        Ok(self.node("Add", &[x, &y], &[]))
    }

    /// [`PlainResidualBlock`]s one after the other.
    fn plain_blocks(&mut self, x: &str, blocks: &[PlainResidualBlock]) -> Result<String> {
        let mut x = x.to_string();
        for block in blocks {
            let y = self.conv(&x, &block.conv1)?;
            let y = self.node("Relu", &[&y], &[]);
            let y = self.conv(&y, &block.conv2)?;
            x = self.node("Add", &[&x, &y], &[]);
        }
        Ok(x)
    }

    /// `x` clamped to [-1, 1], named `output`.
    fn clip_into(&mut self, x: &str, output: String) -> String {
        let low = self.floats("clip_min", &[], &[-1.0]);
        let high = self.floats("clip_max", &[], &[1.0]);
        self.node_into("Clip", &[x, &low, &high], &[], output)
    }

    fn upsample(&mut self, x: &str, up: &Upsample) -> Result<String> {
        match up {
            Upsample::NearestConv(block) => {
                let scales = self.floats("scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
                // out[i] = in[floor(i / 2)], as burn's nearest interpolation.
                let y = self.node(
                    "Resize",
                    &[x, "", &scales],
                    &[
                        ("mode", Attribute::String("nearest")),
                        ("coordinate_transformation_mode", Attribute::String("asymmetric")),
                        ("nearest_mode", Attribute::String("floor")),
                    ],
                );
                self.conv_norm_act(&y, block)
            }
            Upsample::Transposed(block) => {
                let channels = block.conv.channels[1];
                let y = self.conv_transpose(x, &block.conv);
                let y = self.norm(&y, &block.norm, channels);
                Ok(self.node("Relu", &[&y], &[]))
            }
        }
    }
}

/// The ResNet generator's nodes, from "input" to the output, which is named `output`.
fn resnet_graph(g: &mut Graph, generator: &ResnetGenerator, output: String) -> Result<()> {
    let x = g.reflect_pad("input", 3);
    let full = g.conv_norm_act(&x, &generator.stem)?;
    let half = g.conv_norm_act(&full, &generator.down1)?;
    let mut x = g.conv_norm_act(&half, &generator.down2)?;
    for block in &generator.blocks {
        x = g.resnet_block(&x, block)?;
    }
    let mut x = g.upsample(&x, &generator.up1)?;
    if generator.skips {
        x = g.node("Add", &[&x, &half], &[]);
    }
    let mut x = g.upsample(&x, &generator.up2)?;
    if generator.skips {
        x = g.node("Add", &[&x, &full], &[]);
    }
    let x = g.reflect_pad(&x, 3);
    let x = g.conv(&x, &generator.head)?;
    let residual = g.node("Tanh", &[&x], &[]);
    let sum = g.node("Add", &[&residual, "input"], &[]);
    match generator.variant {
        GeneratorVariant::Keras => {
            let half = g.floats("half", &[], &[0.5]);
            g.node_into("Mul", &[&sum, &half], &[], output)
        }
        GeneratorVariant::Residual | GeneratorVariant::Official => g.clip_into(&sum, output),
    };
    Ok(())
}

/// The U-Net's nodes, from "input" to the output, which is named `output`.
fn unet_graph(g: &mut Graph, unet: &UNet, output: String) -> Result<()> {
    let mut x = g.conv("input", &unet.stem)?;
    let mut kept = Vec::new();
    for level in &unet.encoder {
        x = g.plain_blocks(&x, &level.blocks)?;
        kept.push(x.clone());
        let down = g.conv(&x, &level.down)?;
        x = g.node("Relu", &[&down], &[]);
    }
    x = g.plain_blocks(&x, &unet.bottom)?;
    for (level, skip) in unet.decoder.iter().zip(kept).rev() {
        let up = g.conv_transpose(&x, &level.up);
        let up = g.node("Relu", &[&up], &[]);
        let joined = g.node("Add", &[&up, &skip], &[]);
        x = g.plain_blocks(&joined, &level.blocks)?;
    }
    let correction = g.conv(&x, &unet.head)?;
    let sum = g.node("Add", &["input", &correction], &[]);
    g.clip_into(&sum, output);
    Ok(())
}

/// The generator as a serialised ONNX model (`ModelProto`).
pub fn generator_to_onnx(generator: &Generator, description: &str) -> Result<Vec<u8>> {
    let mut g = Graph::default();
    let output = "output".to_string();
    match generator {
        Generator::ResNet(generator) => resnet_graph(&mut g, generator, output.clone())?,
        Generator::UNet(unet) => unet_graph(&mut g, unet, output.clone())?,
    }

    // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12.
    let mut graph = Message::default();
    for node in g.nodes {
        graph.message(1, node);
    }
    graph.string(2, "deblurgan_generator");
    for initializer in g.initializers {
        graph.message(5, initializer);
    }
    graph.string(10, description);
    let dims = [Err("batch"), Ok(3), Err("height"), Err("width")];
    graph.message(11, value_info("input", &dims));
    graph.message(12, value_info(&output, &dims));

    // ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8
    // (domain 1, version 2).
    let mut opset = Message::default();
    opset.string(1, "").int(2, OPSET);
    let mut model = Message::default();
    model
        .int(1, 8)
        .string(2, "deblurgan native-trainer")
        .string(3, env!("CARGO_PKG_VERSION"))
        .message(7, graph)
        .message(8, opset);
    Ok(model.0)
}
